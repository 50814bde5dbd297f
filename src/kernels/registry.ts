import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterCpu } from './cpu/conv2dBackpropFilter';

/**
 * Our replacements for tfjs kernels, by backend. They go in through tfjs's kernel registry, so the
 * MoCo code calls ordinary tfjs ops and the stock kernels come back with `useCustomKernels(false)`.
 */
const CUSTOM_KERNELS: Record<string, { kernelName: string; kernelFunc: tf.KernelFunc }[]> = {
  cpu: [{ kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilterCpu }],
};

const stockKernels = new Map<string, tf.KernelConfig>();

/** Switches our kernels on or off for every backend they exist for (on by default once called). */
export function useCustomKernels(enabled: boolean): void {
  for (const [backendName, kernels] of Object.entries(CUSTOM_KERNELS)) {
    for (const { kernelName, kernelFunc } of kernels) {
      const key = `${backendName}/${kernelName}`;
      if (!stockKernels.has(key)) stockKernels.set(key, tf.getKernel(kernelName, backendName));
      const stock = stockKernels.get(key)!;
      tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel(enabled ? { ...stock, kernelFunc } : stock);
    }
  }
}

/** The names of the kernels replaced on `backendName`. */
export function customKernelNames(backendName: string): string[] {
  return (CUSTOM_KERNELS[backendName] ?? []).map((k) => k.kernelName);
}
