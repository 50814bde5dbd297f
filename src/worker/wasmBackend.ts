import * as tf from '@tensorflow/tfjs';

/**
 * tfjs's WebAssembly backend as the app's fallback when there is no GPU: 7–9× the JavaScript CPU
 * backend on the same cores (docs/PERFORMANCE.md). Loaded only when it is tried (its own chunk),
 * with its `.wasm` binaries part of the build (Vite's `?url` imports copy them into dist/assets)
 * and the backend told where they are, so it needs nothing from another origin.
 *
 * Threads only on a cross-origin isolated page (where SharedArrayBuffer exists); otherwise the SIMD
 * build on one thread. The threaded build also starts its helper Workers from `blob:` URLs, which
 * the built app's Content-Security-Policy refuses (`worker-src 'self'`): a host that wants threads
 * sends COOP/COEP and allows `worker-src blob:` (README, "Content-Security-Policy").
 */
type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasm: WasmModule | null = null;

function crossOriginIsolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

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
  if (!crossOriginIsolated()) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm = module;
}

/** How the running wasm backend computes, for the backend line: "SIMD, 1 thread (…)". */
export async function describeWasmBackend(): Promise<string> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threads = wasm ? wasm.getThreadsCount() : 1;
  const why = threads === 1 ? (crossOriginIsolated() ? '' : ' (threads need a cross-origin isolated page)') : '';
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}${why}`;
}
