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
