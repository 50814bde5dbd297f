import type { BackendInfo } from '../worker/types';

/** Adapters that draw on the CPU: Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, Windows' Basic Render Driver. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software|basic render/i;

export const CPU_BACKEND = 'the CPU backend';
export const WASM_BACKEND = 'WebAssembly on the CPU';

/**
 * What runs the tensors when it is no GPU: the software renderer's name, "the CPU backend",
 * "WebAssembly on the CPU", or null on a GPU (or while the backend is unknown).
 */
export function softwareRenderer(backend: BackendInfo | null): string | null {
  if (!backend) return null;
  if (backend.backend === 'cpu') return CPU_BACKEND;
  if (backend.backend === 'wasm') return WASM_BACKEND;
  const adapter = backend.adapter ?? '';
  return SOFTWARE_ADAPTER.test(adapter) ? adapter : null;
}

/**
 * What a classroom recording ran on when it was no GPU: "the CPU, …" for a CPU or WebAssembly
 * backend, the software renderer's name for WebGPU or WebGL drawn by the CPU; null on a GPU.
 * `made` is the recording's origin (src/train/recording.ts: device and backend in words).
 */
export function recordedWithoutGpu(made: { device: string; backend: string }): string | null {
  if (!/^(webgpu|webgl)/i.test(made.backend.trim())) return `the CPU, ${made.device}`;
  return SOFTWARE_ADAPTER.test(made.device) ? `a software renderer, ${made.device}` : null;
}
