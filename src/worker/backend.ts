import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { customKernelSettings, useCustomKernels } from '../kernels/registry';
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

/** What a backend needs before `tf.setBackend`: WebGPU its device (`fresh`: a new one in place of a lost one), WebAssembly its module and binaries. */
async function prepareBackend(name: BackendName, fresh: boolean): Promise<void> {
  if (name === 'webgpu') await registerWebGpuBackend(WebGPUBackend, { replace: fresh });
  if (name === 'wasm') await prepareWasmBackend();
}

/** How a started backend computes, where that is worth a word (WebAssembly: SIMD, threads); null elsewhere. */
async function describeBackend(name: BackendName): Promise<string | null> {
  return name === 'wasm' ? describeWasmBackend() : null;
}

/**
 * Sets `name` as the tfjs backend and checks that it really computes; throws with the reason if
 * not. Resolves with how it computes (`describeBackend`). `fresh`: a new WebGPU device in place of
 * a lost one.
 */
export async function tryBackend(name: BackendName, fresh = false): Promise<string | null> {
  let ok: boolean;
  try {
    await prepareBackend(name, fresh);
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

/**
 * Where training goes when WebGPU cannot come back after its device was lost: the backends of the
 * order that do not draw on the GPU (WebGL shares the GPU that just failed), the CPU if none. The
 * one place that chooses it.
 */
export function deviceLossFallback(order: readonly BackendName[] = BACKEND_ORDER): BackendName[] {
  const offGpu = order.filter((b) => b !== 'webgpu' && b !== 'webgl');
  return offGpu.length > 0 ? offGpu : ['cpu'];
}

/**
 * How often a lost device is recovered without asking: at most `max` times within `windowMs`. A GPU
 * that keeps failing (a second loss within two minutes of a recovery) stops training, and the page
 * offers the fallback or a new Worker, rather than looping on a broken device.
 */
export const DEVICE_RECOVERY_LIMIT = { max: 1, windowMs: 120_000 } as const;

/** Whether a device lost at `now` may be recovered automatically, given when the earlier recoveries were. */
export function mayRecoverAutomatically(recoveries: readonly number[], now: number, limit: { max: number; windowMs: number } = DEVICE_RECOVERY_LIMIT): boolean {
  return recoveries.filter((t) => now - t < limit.windowMs).length < limit.max;
}

/**
 * After the WebGPU device was lost: WebGPU again on a new device when the browser still gives an
 * adapter (tfjs's backend re-created on it, our kernels switched as before), else the first
 * fallback that starts (`deviceLossFallback`), saying why WebGPU did not come back.
 */
export async function recoverBackend(order: readonly BackendName[] = BACKEND_ORDER): Promise<BackendInfo> {
  const kernels = customKernelSettings();
  const reasons: string[] = [];
  try {
    const probe = await probeWebGpu();
    if (probe.reason) throw new Error(probe.reason);
    const detail = await tryBackend('webgpu', true);
    useCustomKernels(kernels.on, { except: kernels.except, include: kernels.include });
    return { backend: 'webgpu', fallbackReason: null, adapter: probe.adapter, detail };
  } catch (e) {
    reasons.push(`WebGPU did not come back after the device was lost: ${errorMessage(e)}`);
  }
  for (const name of deviceLossFallback(order)) {
    try {
      const detail = await tryBackend(name);
      useCustomKernels(kernels.on, { except: kernels.except, include: kernels.include });
      return { backend: name, fallbackReason: reasons.join('; '), adapter: null, detail };
    } catch (e) {
      reasons.push(`${BACKEND_LABELS[name]} unavailable: ${errorMessage(e)}`);
    }
  }
  throw new Error(`no tfjs backend could start after the GPU device was lost (${reasons.join('; ')})`);
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
 * `destroy()`), with the browser's words for it, and `onError` with every error no error scope
 * caught (an out-of-memory or validation error outside one), which often comes before a loss.
 * Nothing on other backends.
 */
export function onDeviceLost(listener: (message: string) => void, onError?: (message: string) => void): void {
  const device = gpuDevice();
  if (!device) return;
  void device.lost.then((info) => listener(lossMessage(info)));
  if (onError) device.addEventListener('uncapturederror', (e) => onError((e as GPUUncapturedErrorEvent).error.message || 'an unnamed GPU error'));
}

/** "destroyed" or "lost", with the browser's message when it gives one. */
export function lossMessage(info: { reason: string; message: string }): string {
  const how = info.reason === 'destroyed' ? 'destroyed' : 'lost';
  const message = info.message.trim().replace(/\.$/, '');
  return message ? `${how}: ${message}` : how;
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
