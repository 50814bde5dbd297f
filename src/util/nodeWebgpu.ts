import { registerWebGpuBackend } from './webgpuDevice';

/**
 * Gives tfjs a real WebGPU device in Node through Dawn (the npm package `webgpu`). The GPU globals
 * must exist before `@tensorflow/tfjs-backend-webgpu` is imported, hence the dynamic imports.
 * Without a GPU, Dawn can run on Chromium's SwiftShader (see the README for the variables).
 */
export async function installNodeWebGpu(): Promise<void> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true, writable: true });
  await registerWebGpuBackend();
}
