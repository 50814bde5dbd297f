/// <reference types="@webgpu/types" />
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
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
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  await registerWebGpuBackend(WebGPUBackend);
}

export type NodeBackend = 'cpu' | 'wasm' | 'webgpu';

const LABELS: Record<NodeBackend, string> = { cpu: 'CPU (tfjs)', wasm: 'WebAssembly (tfjs-backend-wasm, SIMD)', webgpu: 'WebGPU (Dawn)' };

/** A renderer that runs on the CPU: WebGPU on it trains slower than tfjs's CPU backend. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|warp/i;

function describeAdapter(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

/**
 * The adapter that `--backend auto` would train on (Dawn's high-performance one), or why there is
 * none: no adapter, or a software one (SwiftShader, llvmpipe: a fallback adapter), on which
 * WebAssembly is the faster choice.
 */
export async function findGpuAdapter(): Promise<{ adapter: string; reason: null } | { adapter: null; reason: string }> {
  // Without the loader Dawn finds nothing on Linux, and says so on stderr with a native stack: skip it.
  if (process.platform === 'linux' && !vulkanLoaderFound()) return { adapter: null, reason: 'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn has no GPU driver' };
  await installNodeWebGpu();
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { adapter: null, reason: 'Dawn found no WebGPU adapter (no Vulkan driver)' };
  const info = adapter.info;
  const name = describeAdapter(info);
  // `isFallbackAdapter` moved from the adapter to its info in the spec; Dawn has either.
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (fallback || SOFTWARE_ADAPTER.test(name)) return { adapter: null, reason: `the only WebGPU adapter, ${name}, renders in software` };
  return { adapter: name, reason: null };
}

/** Whether the Vulkan loader is where the dynamic linker looks (LD_LIBRARY_PATH, the usual library folders). */
function vulkanLoaderFound(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/**
 * What `--backend auto` trains on: WebGPU on a real GPU adapter, else tfjs's WebAssembly backend
 * (SIMD; 7–9× its JavaScript CPU backend on the same cores, docs/PERFORMANCE.md). Kept apart from
 * starting it, so that the choice reads in one place.
 */
export async function chooseAutoBackend(): Promise<StartedBackend> {
  const found = await findGpuAdapter();
  if (found.adapter) return { backend: 'webgpu', adapter: found.adapter, line: `backend: WebGPU (Dawn) on ${found.adapter} (--backend auto; --backend wasm or cpu for the processor)` };
  return { backend: 'wasm', adapter: null, line: `backend: ${LABELS.wasm}, not WebGPU: ${found.reason} (--backend auto; --backend webgpu to use it anyway, --backend cpu for tfjs's JavaScript CPU backend)` };
}

/** A backend in use: which, the WebGPU adapter it runs on (null off WebGPU, or where Dawn named none), and the line that says which and why. */
export interface StartedBackend {
  backend: NodeBackend;
  adapter: string | null;
  line: string;
}

/**
 * Starts the tfjs backend a command asked for: `webgpu` (through Dawn), `wasm`, `cpu`, or `auto`
 * (`chooseAutoBackend`). Returns it, or the error.
 */
export async function startNodeBackend(requested: NodeBackend | 'auto'): Promise<StartedBackend | { error: string }> {
  const { backend, adapter: found, line: chosen } = requested === 'auto' ? await chooseAutoBackend() : { backend: requested, adapter: null, line: `backend: ${LABELS[requested]}, as asked` };
  let line = chosen;
  let adapter = found;
  if (requested === 'webgpu') await installNodeWebGpu();
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend)))
    return { error: `the ${backend} backend could not start${backend === 'webgpu' ? ' (no WebGPU adapter: see README for Dawn on SwiftShader or a GPU)' : ''}` };
  await tf.ready();
  // tfjs-cpu greets Node users with advice to install tfjs-node, whose install downloads a native
  // binary: this project stays pure JavaScript (plus Dawn), so the greeting is noise here.
  if (backend === 'cpu') Object.assign(tf.backend(), { firstUse: false });
  if (backend === 'webgpu' && requested === 'webgpu') {
    const info = (tf.backend() as unknown as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    if (info) {
      adapter = describeAdapter(info);
      line = `backend: WebGPU (Dawn) on ${adapter}, as asked`;
    }
  }
  return { backend, adapter, line };
}
