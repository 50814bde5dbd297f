import * as tf from '@tensorflow/tfjs';
import type { KernelCase } from '../kernels/declaration';
import { customKernelSettings, flagKernelNames, kernelCases, optInKernelNames, useCustomKernels } from '../kernels/registry';
import { mocoConfig } from '../moco/config';
import { MoCo } from '../moco/moco';
import { countDispatches } from '../perf/dispatchCounter';

/**
 * Runs the correctness cases that the kernel declarations carry (src/kernels: random non-zero
 * inputs of several shapes, odd sizes, stride 2, padding, split-K and single-pass reductions) on the
 * current backend, custom against stock, and one MoCo step with custom kernels on against one with
 * them off. Runs wherever the training runs (Node through Dawn, a page, a Worker): `npm run bench
 * -- --check`, tests/kernels and the Chromium test call it.
 */

export interface KernelCheck {
  /** Kernel or operation, and the case. */
  name: string;
  /** Largest |custom − stock| over the largest |stock|, worst over the outputs compared. */
  relativeError: number;
  tolerance: number;
  passed: boolean;
  /** Wall time of the check (both variants, shader compilation included). */
  ms?: number;
}


/** Largest |a − b| relative to the largest |b| (1e-30 floor). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

/** ‖a − b‖₂ / ‖b‖₂ (1e-30 floor). */
export function normRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < actual.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Number.isNaN(diff) ? Infinity : Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
}

/**
 * Runs a case with custom kernels off, then on, and compares every output. With custom kernels
 * on, the case's program (one of ours) must have run: a check that silently compared stock with
 * stock would prove nothing.
 */
export async function runKernelCase(c: KernelCase): Promise<KernelCheck> {
  const tolerance = c.tolerance ?? 1e-4;
  const settings = customKernelSettings();
  const start = performance.now();
  const run = async (on: boolean) => {
    // Opt-in kernels too: every kernel we have is checked.
    useCustomKernels(on, { include: optInKernelNames(tf.getBackend()) });
    const { result: out, counts } = await countDispatches(tf.backend(), () => tf.tidy(c.run));
    const values: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out)) values[k] = (await t.data()) as Float32Array;
    tf.dispose(Object.values(out));
    return { values, programs: counts.byProgram };
  };
  try {
    const { values: stock } = await run(false);
    const { values: custom, programs } = await run(true);
    if (!programs[c.program]) throw new Error(`${c.name}: ${c.program} did not run with custom kernels on (ran: ${Object.keys(programs).join(', ')})`);
    let worst = 0;
    for (const k of Object.keys(stock)) {
      const scale = stock[k].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // A check on all-zero data would pass whatever the kernel did.
      if (!(scale > 1e-6)) throw new Error(`${c.name}: stock output ${k} is all zeros, the check would prove nothing`);
      worst = Math.max(worst, relativeError(custom[k], stock[k]));
    }
    return { name: c.name, relativeError: worst, tolerance, passed: worst < tolerance, ms: performance.now() - start };
  } finally {
    useCustomKernels(settings.on, settings);
  }
}

/**
 * Every kernel case, then (unless `includeTrainingStep` is false) the MoCo-step check once per
 * entry of `trainingStepIncludes` (the opt-ins switched on with the defaults; default: none).
 */
export async function checkKernels(options: { tolerance?: number; includeTrainingStep?: boolean; trainingStepIncludes?: readonly (readonly string[])[] } = {}): Promise<KernelCheck[]> {
  const checks: KernelCheck[] = [];
  for (const c of kernelCases(tf.getBackend())) checks.push(await runKernelCase({ ...c, tolerance: options.tolerance ?? c.tolerance }));
  if (options.includeTrainingStep ?? true) {
    const settings = customKernelSettings();
    try {
      const includes = options.trainingStepIncludes ?? [[]];
      for (const include of includes) checks.push(...(await compareTrainingSteps(options.tolerance ?? 1e-4, include)));
      // A stock path of tfjs chosen by a flag (e.g. its GEMM input gradient): nothing of ours to compare
      // case by case, so always checked in a MoCo step (once, if no variant above had it).
      for (const name of flagKernelNames(tf.getBackend()))
        if (!includes.some((include) => include.includes(name))) checks.push(...(await compareTrainingSteps(options.tolerance ?? 1e-4, [name])));
    } finally {
      useCustomKernels(settings.on, settings);
    }
  }
  return checks;
}

/**
 * Two MoCo steps (empty then non-empty queue) on the tiny preset, default custom kernels (and the
 * opt-in ones in `include`) against stock: losses, parameters and their updates.
 */
export async function compareTrainingSteps(tolerance: number, include: readonly string[] = []): Promise<KernelCheck[]> {
  const batch = 8;
  const images = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const run = async (on: boolean) => {
    useCustomKernels(on, { include });
    // No weight decay: the parameter updates are then the gradients alone (SGD's decay has its own check).
    const moco = new MoCo(mocoConfig('v2', 'tiny', { batchSize: batch, queueSize: 16, bnSplits: 2, weightDecay: 0 }));
    const before = moco.encoderQ.trainableVariables().map((v) => v.clone());
    const state = () => [...moco.encoderQ.trainableVariables(), ...moco.encoderK.trainableVariables(), ...moco.encoderK.bnStatistics.values()];
    const losses = [(await moco.step(images)).loss];
    // Read between the steps, as a checkpoint does: tfjs keeps what it read on the CPU, and the
    // second step's updates in place must not leave those copies stale.
    await Promise.all(state().map((v) => v.data()));
    losses.push((await moco.step(images)).loss);
    const after = state();
    const params = await Promise.all(after.map((v) => v.data()));
    const updates = await Promise.all(moco.encoderQ.trainableVariables().map((v, i) => tf.tidy(() => v.sub(before[i])).data()));
    tf.dispose(before);
    moco.dispose();
    return { losses, params, updates };
  };
  const stock = await run(false);
  const custom = await run(true);
  images.dispose();
  const worst = (a: ArrayLike<number>[], b: ArrayLike<number>[], error = relativeError) => Math.max(...a.map((x, i) => error(x, b[i])));
  const lossError = relativeError(custom.losses, stock.losses);
  const paramError = worst(custom.params, stock.params);
  // The updates are lr·v, a small difference of the parameters: compared on their own scale they
  // check the gradients, through the whole network, where a rounding-level change of an input can
  // flip a ReLU near 0 and move single elements a lot: so in norm, ‖Δ − Δ₀‖ / ‖Δ₀‖, to 1e-3.
  const updateError = worst(custom.updates, stock.updates, normRelativeError);
  const step = `MoCo step ×2${include.length ? ` with ${include.join(', ')}` : ''}`;
  return [
    {
      name: `${step} (tiny, batch ${batch}): losses ${stock.losses.map((l) => l.toFixed(5)).join(', ')}`,
      relativeError: lossError,
      tolerance,
      passed: lossError < tolerance,
    },
    { name: `${step}: query and key parameters, moving statistics`, relativeError: paramError, tolerance, passed: paramError < tolerance },
    { name: `${step}: query parameter updates (gradients), in norm`, relativeError: updateError, tolerance: 1e-3, passed: updateError < 1e-3 },
  ];
}
