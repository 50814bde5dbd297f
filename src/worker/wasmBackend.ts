import * as tf from '@tensorflow/tfjs';

/**
 * tfjs's WebAssembly backend as the app's fallback when there is no GPU: 7–10× the JavaScript CPU
 * backend on the same cores (docs/PERFORMANCE.md). Loaded only when it is tried (its own chunk),
 * with its `.wasm` binaries part of the build (Vite's `?url` imports copy them into dist/assets)
 * and the backend told where they are, so it needs nothing from another origin.
 *
 * Always the SIMD build on one thread. The threaded build needs a cross-origin isolated page
 * (SharedArrayBuffer) and also starts its helper Workers from `blob:` URLs that `importScripts` a
 * `blob:` copy of itself, which the built app's Content-Security-Policy refuses (`script-src` and
 * `worker-src 'self'`): measured in Chromium, on an isolated page under that policy its start never
 * finishes, and with `worker-src blob:` allowed it fails in every helper Worker. Allowing `blob:`
 * scripts would undo what the policy is for, so threads stay off (README, "Without a GPU").
 */
type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasm: WasmModule | null = null;

/** Registers the backend and points it at its binaries; call before `tf.setBackend('wasm')`. */
export async function prepareWasmBackend(): Promise<void> {
  if (wasm) return;
  const module = await import('@tensorflow/tfjs-backend-wasm');
  // Node (the tests, the trainer) reads the binaries beside the package itself.
  if (!tf.env().getBool('IS_NODE')) {
    const [plain, simd, threadedSimd] = await Promise.all([
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'),
    ]);
    module.setWasmPaths({
      'tfjs-backend-wasm.wasm': plain.default,
      'tfjs-backend-wasm-simd.wasm': simd.default,
      'tfjs-backend-wasm-threaded-simd.wasm': threadedSimd.default,
    });
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm = module;
}

/** How the running wasm backend computes, for the backend line: "SIMD, 1 thread". */
export async function describeWasmBackend(): Promise<string> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threads = wasm ? wasm.getThreadsCount() : 1;
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}`;
}
