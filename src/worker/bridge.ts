import * as Comlink from 'comlink';
import type { BackendInfo, InitOptions, StatsBatch, TrainingApi } from './api';

export interface TrainingBridge {
  /** The Worker's API; every call is asynchronous. */
  api: Comlink.Remote<TrainingApi>;
  backend: BackendInfo;
  /** Ends the Worker (and its GPU device). */
  terminate(): void;
}

/**
 * Starts the training Worker, picks its backend and subscribes `onStats` to its statistics
 * batches. The only place the page touches the Worker.
 */
export async function startTrainingWorker(onStats: (batch: StatsBatch) => void, options?: InitOptions): Promise<TrainingBridge> {
  const worker = new Worker(new URL('./training.worker.ts', import.meta.url), { type: 'module', name: 'moco-training' });
  const api = Comlink.wrap<TrainingApi>(worker);
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (e) => reject(new Error(`the training worker failed to load: ${e.message || 'script error'}`)), { once: true });
  });
  try {
    const backend = await Promise.race([api.init(Comlink.proxy(onStats), options), failed]);
    return { api, backend, terminate: () => worker.terminate() };
  } catch (e) {
    worker.terminate();
    throw e;
  }
}
