import { useCustomKernels, type CustomKernelOptions } from '../kernels/registry';
import { startNodeBackend, type NodeBackend, type StartedBackend } from '../util/nodeWebgpu';

export type { NodeBackend, StartedBackend };

const BACKENDS: readonly (NodeBackend | 'auto')[] = ['auto', 'webgpu', 'wasm', 'cpu'];

export interface StartBackendOptions extends CustomKernelOptions {
  /** Our kernels (src/kernels) on this backend, as the headless trainer runs by default; false: stock tfjs. */
  customKernels?: boolean;
}

/**
 * Starts a tfjs backend in Node as the headless trainer does, and then our kernels on it: `webgpu`
 * (Dawn; without a GPU on SwiftShader, README "Without a GPU"), `wasm`, `cpu`, or `auto` (WebGPU on a
 * GPU, else WebAssembly). In this order because the WebGPU backend's own kernels exist only once
 * Dawn is set up, and ours replace them: switched on before, they would stay stock. Returns the
 * backend and the line that says which and why; throws, naming the fix, when it cannot start.
 */
export async function startBackend(backend: NodeBackend | 'auto' = 'auto', options: StartBackendOptions = {}): Promise<StartedBackend> {
  if (!BACKENDS.includes(backend)) throw new Error(`startBackend: no backend '${backend}'; choose one of ${BACKENDS.join(', ')}`);
  const started = await startNodeBackend(backend);
  if ('error' in started) throw new Error(`startBackend: ${started.error}`);
  const { customKernels = true, ...switches } = options;
  useCustomKernels(customKernels, switches);
  return started;
}
