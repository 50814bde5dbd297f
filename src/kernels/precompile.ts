import * as tf from '@tensorflow/tfjs';
import { customPipelinesReady } from './webgpu/program';

/**
 * Compiles every WebGPU pipeline that `pass` would use, in parallel, without running anything:
 * `pass` runs under tfjs-webgpu's compile-only mode (WEBGPU_ENGINE_COMPILE_ONLY: each program's
 * pipeline is created with `createComputePipelineAsync` and nothing is dispatched), then this waits
 * for tfjs's pipelines and ours. The tensors `pass` computes hold garbage: give it a scratch model,
 * never one that trains. Elsewhere than on WebGPU it does nothing and returns 0; else the milliseconds.
 */
export async function compilePipelines(pass: () => Promise<unknown>): Promise<number> {
  if (tf.getBackend() !== 'webgpu') return 0;
  const start = performance.now();
  const env = tf.env();
  env.set('WEBGPU_ENGINE_COMPILE_ONLY', true);
  try {
    await pass();
  } finally {
    env.set('WEBGPU_ENGINE_COMPILE_ONLY', false);
  }
  const backend = tf.backend();
  await (backend as unknown as { checkCompileCompletionAsync(): Promise<void> }).checkCompileCompletionAsync();
  await customPipelinesReady(backend);
  return performance.now() - start;
}
