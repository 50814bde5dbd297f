import * as Comlink from 'comlink';
import type { BenchApi, BenchReport, BenchRequest } from './benchApi';

export interface BenchmarkRun {
  /** The report; rejects if the Worker fails to load or breaks, or on `cancel`. */
  done: Promise<BenchReport>;
  /** Ends the Worker at once (a step in flight included). */
  cancel(): void;
}

export class BenchmarkCancelled extends Error {
  constructor() {
    super('the benchmark was cancelled');
    this.name = 'BenchmarkCancelled';
  }
}

/**
 * Runs "Benchmark my GPU" in a Worker of its own, away from the training Worker's backend and
 * model, and ends that Worker when done, so that the browser frees its GPU device and memory.
 */
export function startBenchmark(request: BenchRequest, onProgress: (line: string) => void): BenchmarkRun {
  const worker = new Worker(new URL('./bench.worker.ts', import.meta.url), { type: 'module', name: 'moco-benchmark' });
  const api = Comlink.wrap<BenchApi>(worker);
  let stop!: (e: Error) => void;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
    worker.addEventListener('error', (e) => reject(new Error(`the benchmark worker failed: ${e.message || 'script error'}`)), { once: true });
  });
  const done = Promise.race([api.run(request, Comlink.proxy(onProgress)), stopped]).finally(() => worker.terminate());
  return { done, cancel: () => stop(new BenchmarkCancelled()) };
}
