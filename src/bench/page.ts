import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { useCustomKernels } from '../kernels/registry';
import { registerWebGpuBackend } from '../util/webgpuDevice';
import { checkKernels, type KernelCheck } from './kernelChecks';
import { benchmarkStep, type BenchOptions, type BenchResult } from '../perf/stepBenchmark';

/**
 * bench.html's script: the benchmark and the kernel checks in a page, for `npm run bench` (which
 * drives headless Chromium through `window.mocoBench`) or by hand from the console.
 */
export interface PageBench {
  run(backend: string, options: Omit<BenchOptions, 'log'>): Promise<BenchResult>;
  check(options?: { includeTrainingStep?: boolean; trainingStepIncludes?: string[][] }): Promise<KernelCheck[]>;
}

async function use(backend: string): Promise<void> {
  if (backend === 'webgpu') await registerWebGpuBackend(WebGPUBackend);
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend could not start`);
  await tf.ready();
  useCustomKernels(true);
}

const bench: PageBench = {
  async run(backend, options) {
    await use(backend);
    return benchmarkStep({ ...options, log: (line) => console.log(line) });
  },
  async check(options) {
    await use('webgpu');
    return checkKernels(options);
  },
};

Object.assign(globalThis, { mocoBench: bench });
document.body.dataset.ready = 'true';
