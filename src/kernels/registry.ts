import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterCpu } from './cpu/conv2dBackpropFilter';
import { setIncludedOptions } from './optIn';
import { WEBGPU_FUSED_KERNELS, WEBGPU_GRADIENTS, WEBGPU_REPLACEMENTS } from './webgpu';
import { BN_ROW_SPLIT } from './webgpu/batchNorm';

/**
 * Our replacements for tfjs kernels, by backend. They go in through tfjs's kernel registry, so the
 * MoCo code calls ordinary tfjs ops and the stock kernels come back with `useCustomKernels(false)`.
 * Each is made from the stock kernel, which a replacement may reuse. An opt-in replacement only
 * runs when named in `include` (one the measurements do not favour yet, kept for A/B runs).
 */
const REPLACEMENTS: Record<string, { kernelName: string; make: (stock: tf.KernelFunc) => tf.KernelFunc; optIn?: boolean }[]> = {
  cpu: [{ kernelName: 'Conv2DBackpropFilter', make: () => conv2dBackpropFilterCpu }],
  webgpu: WEBGPU_REPLACEMENTS,
};

/**
 * Kernels of our own names for fused operations that are several tfjs ops (split batch-norm, the
 * SGD step, moving averages). They are registered once and reached only through `./fused`, which
 * falls back to the plain tfjs ops when custom kernels are off or the backend has none.
 */
const FUSED: Record<string, { kernelName: string; kernelFunc: tf.KernelFunc }[]> = {
  webgpu: WEBGPU_FUSED_KERNELS,
};

/**
 * Gradients of stock kernels computed with our kernels (on webgpu, when on). tfjs keeps one
 * gradient per kernel for all backends, so ours are installed once and check at each call.
 */
const GRADIENTS: Record<string, { kernelName: string; make: (stock: tf.GradConfig, on: () => boolean) => tf.GradConfig }[]> = {
  webgpu: WEBGPU_GRADIENTS,
};

const stockKernels = new Map<string, tf.KernelConfig>();
const installedGradients = new Set<string>();
let enabled = false;
let excluded = new Set<string>();
let included = new Set<string>();

export interface CustomKernelOptions {
  /** Kernel names (e.g. 'Conv2DBackpropFilter') or fused operations (see `FUSED_OPS`) to leave stock. */
  except?: readonly string[];
  /** Opt-in kernels to switch on as well (see `optInKernelNames`). */
  include?: readonly string[];
}

/**
 * Switches our kernels on or off for every backend they exist for (off until first called). A
 * backend whose kernels are not registered yet is skipped: call again once it is imported.
 */
export function useCustomKernels(on: boolean, options: CustomKernelOptions = {}): void {
  enabled = on;
  excluded = new Set(options.except ?? []);
  included = new Set(options.include ?? []);
  setIncludedOptions(included);
  for (const [backendName, kernels] of Object.entries(FUSED)) {
    for (const k of kernels) if (!tf.getKernel(k.kernelName, backendName)) tf.registerKernel({ ...k, backendName });
  }
  for (const [backendName, gradients] of Object.entries(GRADIENTS)) {
    for (const { kernelName, make } of gradients) {
      if (installedGradients.has(kernelName)) continue;
      const stock = tf.getGradient(kernelName);
      if (!stock) continue;
      tf.registerGradient(make(stock, () => customKernelEnabled(`${kernelName}Grad`) && tf.getBackend() === backendName));
      installedGradients.add(kernelName);
    }
  }
  for (const [backendName, kernels] of Object.entries(REPLACEMENTS)) {
    for (const { kernelName, make, optIn } of kernels) {
      const key = `${backendName}/${kernelName}`;
      let stock = stockKernels.get(key);
      if (!stock) {
        stock = tf.getKernel(kernelName, backendName);
        if (!stock) continue;
        stockKernels.set(key, stock);
      }
      tf.unregisterKernel(kernelName, backendName);
      const use = on && !excluded.has(kernelName) && (!optIn || included.has(kernelName));
      tf.registerKernel(use ? { ...stock, kernelFunc: make(stock.kernelFunc) } : stock);
    }
  }
}

/** The current switch, to restore after a temporary change. */
export function customKernelSettings(): { on: boolean; except: string[]; include: string[] } {
  return { on: enabled, except: [...excluded], include: [...included] };
}

/** Whether custom kernels are on, and `name` (a kernel or fused operation) is not excluded. */
export function customKernelEnabled(name: string): boolean {
  return enabled && !excluded.has(name);
}

/** The names of the kernels replaced on `backendName`, and of the fused kernels added there. */
export function customKernelNames(backendName: string): string[] {
  return [...(REPLACEMENTS[backendName] ?? []), ...(FUSED[backendName] ?? [])].map((k) => k.kernelName);
}

/** Options of our kernels that run only when included (not kernels of their own). */
const OPT_IN_OPTIONS: Record<string, string[]> = { webgpu: [BN_ROW_SPLIT] };

/** The replacements and kernel options on `backendName` that run only when included. */
export function optInKernelNames(backendName: string): string[] {
  return [...(REPLACEMENTS[backendName] ?? []).filter((k) => k.optIn).map((k) => k.kernelName), ...(OPT_IN_OPTIONS[backendName] ?? [])];
}
