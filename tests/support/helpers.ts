import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { useCustomKernels } from '../../src/kernels/registry';
import { prepareWasmBackend } from '../../src/worker/wasmBackend';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The team's shared, read-only material sits beside the checkout. */
export const SHARED = resolve(REPO_ROOT, '../shared');

/** Dawn on Chromium's SwiftShader: WebGPU without a GPU (the README's variables). */
export const SWIFTSHADER_ENV = {
  LD_LIBRARY_PATH: '/usr/lib/chromium',
  VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
};

/**
 * Runs `script` (a .run.ts beside its test) on WebGPU through Dawn on SwiftShader, in a process of
 * its own (Dawn reads LD_LIBRARY_PATH at start-up), and returns the JSON of its last output line.
 */
export async function runOnDawn<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...SWIFTSHADER_ENV },
    timeout: timeoutMs,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  Object.assign(tf.backend(), { firstUse: false });
  useCustomKernels(true);
}

/**
 * tfjs's WebAssembly backend, as the app starts it without a GPU (SIMD, one thread), with our
 * kernels: 7–10× the JavaScript CPU backend, for tests of what does not depend on the backend.
 */
export async function useWasmBackend(): Promise<void> {
  await prepareWasmBackend();
  if (!(await tf.setBackend('wasm'))) throw new Error("tfjs's WebAssembly backend did not start");
  await tf.ready();
  useCustomKernels(true);
}

type Matrix = number[][];
export interface Golden {
  info_nce: { q: Matrix; k: Matrix; queue: Matrix; T: number; logits: Matrix; loss: number; grad_q: Matrix; contrastive_top1: number; mean_pos_sim: number; mean_neg_sim: number };
  info_nce_partial_queue: { filled: number; loss: number; grad_q: Matrix };
  momentum_update: { theta_q: Matrix; theta_k: Matrix; cases: { m: number; result: Matrix }[] };
  split_batch_norm: { x_nhwc: number[][][][]; gamma: number[]; beta: number[]; groups: number; eps: number; y_nhwc: number[][][][] };
  weighted_knn: { bank: Matrix; bank_labels: number[]; queries: Matrix; k: number; t: number; classes: number; votes: Matrix; pred: number[] };
  cosine_schedule: { base_lr: number; warmup_steps: number; total_steps: number; lr: number[] };
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(resolve(SHARED, 'golden/moco_golden.json'), 'utf8')) as Golden;
}

/** Largest |a − b| relative to the largest |b|: the kernel checks' measure. */
export { relativeError } from '../../src/bench/kernelChecks';

export function flat(x: unknown): number[] {
  return (x as unknown[]).flat(Infinity as 1) as number[];
}

/** The error `p` rejects with (a test failure if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
