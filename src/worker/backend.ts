import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { useCustomKernels } from '../kernels/registry';
import { registerWebGpuBackend } from '../util/webgpuDevice';
import { BACKEND_LABELS, type BackendInfo, type BackendName } from './types';
import { describeWasmBackend, prepareWasmBackend } from './wasmBackend';

/**
 * The GPU first, then the processor: WebAssembly (SIMD) ahead of tfjs's JavaScript CPU backend,
 * which it outruns 7–9× on the same cores; the CPU backend stays as the last resort (a browser
 * without WebAssembly, or a policy that refuses to compile it).
 */
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

/** The WebGPU entry point of the current global scope (window or worker), if any. */
function navigatorGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu;
}

/** Why WebGPU cannot run here, or null with the adapter's description when it can. */
export async function probeWebGpu(): Promise<{ reason: string | null; adapter: string | null }> {
  const gpu = navigatorGpu();
  if (!gpu) return { reason: 'navigator.gpu is missing (this browser or context has no WebGPU)', adapter: null };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { reason: `requestAdapter failed: ${errorMessage(e)}`, adapter: null };
  }
  if (!adapter) return { reason: 'no adapter (navigator.gpu.requestAdapter() returned null)', adapter: null };
  const info = adapter.info;
  const description = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : '';
  return { reason: null, adapter: description || null };
}

/** What a backend needs before `tf.setBackend`: WebGPU its device, WebAssembly its module and binaries. */
async function prepareBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu') await registerWebGpuBackend();
  if (name === 'wasm') await prepareWasmBackend();
}

/** How a started backend computes, where that is worth a word (WebAssembly: SIMD, threads); null elsewhere. */
async function describeBackend(name: BackendName): Promise<string | null> {
  return name === 'wasm' ? describeWasmBackend() : null;
}

/**
 * Sets `name` as the tfjs backend and checks that it really computes; throws with the reason if
 * not. Resolves with how it computes (`describeBackend`).
 */
export async function tryBackend(name: BackendName): Promise<string | null> {
  let ok: boolean;
  try {
    await prepareBackend(name);
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new Error(`the backend failed to start: ${errorMessage(e)}`);
  }
  if (!ok) throw new Error('the backend failed to start');
  await tf.ready();
  // The CPU backend advises installing tfjs-node on first use: irrelevant in a browser.
  if (name === 'cpu') Object.assign(tf.backend(), { firstUse: false });
  // Some failures only show on first use (a lost device, a shader that does not compile).
  const probe = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)));
  try {
    const values = await probe.data();
    if (values[0] !== 2 || values[1] !== 3) throw new Error(`a test computation gave ${Array.from(values).join(', ')}`);
  } finally {
    probe.dispose();
  }
  return describeBackend(name);
}

/**
 * WebGPU first; if it is missing or fails to start, WebGL, then WebAssembly, then the CPU. The
 * reason for each backend skipped is kept, so the page can say why it runs on a fallback.
 */
export async function selectBackend(order: readonly BackendName[] = BACKEND_ORDER): Promise<BackendInfo> {
  const reasons: string[] = [];
  if (order[0] !== 'webgpu') reasons.push(`WebGPU not tried: backend order set to ${order.join(', ')}`);
  let adapter: string | null = null;
  for (const name of order) {
    try {
      if (name === 'webgpu') {
        const probe = await probeWebGpu();
        if (probe.reason) throw new Error(probe.reason);
        adapter = probe.adapter;
      }
      const detail = await tryBackend(name);
      useCustomKernels(true);
      return { backend: name, fallbackReason: reasons.length ? reasons.join('; ') : null, adapter: name === 'webgpu' ? adapter : null, detail };
    } catch (e) {
      reasons.push(`${BACKEND_LABELS[name]} unavailable: ${errorMessage(e)}`);
    }
  }
  throw new Error(`no tfjs backend could start (${reasons.join('; ')})`);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The WebGPU device tfjs computes on; null on another backend. */
export function gpuDevice(): GPUDevice | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return (tf.backend() as unknown as { device?: GPUDevice }).device ?? null;
}

/**
 * Calls `listener` once if the device in use now is lost (a driver reset, the GPU process gone, a
 * `destroy()`), with the browser's words for it. Nothing on other backends.
 */
export function onDeviceLost(listener: (message: string) => void): void {
  const device = gpuDevice();
  if (!device) return;
  void device.lost.then((info) => listener(info.message ? `${info.reason === 'destroyed' ? 'destroyed' : 'lost'}: ${info.message}` : info.reason === 'destroyed' ? 'destroyed' : 'lost'));
}

/**
 * Runs `fn` inside a WebGPU out-of-memory error scope: allocation failures on the GPU do not throw,
 * they only show here. Resolves with fn's result and the error's message, if any (none off WebGPU).
 */
export async function withOutOfMemoryScope<T>(fn: () => Promise<T>): Promise<{ result: T; outOfMemory: string | null }> {
  const device = gpuDevice();
  device?.pushErrorScope('out-of-memory');
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await device?.popErrorScope();
    throw e;
  }
  const error = device ? await device.popErrorScope() : null;
  return { result, outOfMemory: error ? error.message || 'out of memory' : null };
}
