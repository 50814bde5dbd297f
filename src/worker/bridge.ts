/**
 * The page's side of the Worker boundary (comlink, after Squoosh's worker-bridge): `startWorker`
 * wraps any Worker in a typed remote, typed by the Worker's own code: the training Worker
 * (./training.worker) and, for each run of "Benchmark my GPU", a benchmark Worker (./gpuBenchmark.worker). The only place the page touches a Worker.
 */
import * as Comlink from 'comlink';
import type { BenchReport, BenchRequest } from './gpuBenchmarkReport';
import type { BenchmarkWorkerApi } from './gpuBenchmark.worker';
import type { TrainingWorkerApi } from './training.worker';
import type { BackendInfo, InitOptions, StatsBatch } from './types';

/** A Worker's API of objects (training, evaluation, benchmark), each with asynchronous methods. */
export type RemoteApi<T> = { [K in keyof T]: Comlink.Remote<T[K]> };

export interface WorkerBridge<T> {
  /** The Worker's objects; every call rejects if the Worker dies or has ended. */
  api: RemoteApi<T>;
  /** Ends the Worker (and its GPU device); calls still pending reject with `reason`. */
  terminate(reason?: Error): void;
  /**
   * Hears once when the Worker fails on its own (an uncaught error after it has answered, or its
   * script failing to load), not when `terminate` ends it; returns the unsubscribe.
   */
  onFailure(listener: (reason: Error) => void): () => void;
  /** The Worker itself (for the app's test hooks, which end it as a crash would, unseen by the bridge). */
  readonly worker: Worker;
}

/**
 * Wraps `worker` in a typed remote. For the Worker's whole life an 'error' (its script threw
 * outside any call) or a 'messageerror' (an answer that could not be read) rejects every call then
 * pending with a message naming the Worker, so that no call hangs on it. An 'error' before the
 * Worker has answered anything means its script failed to load: it is ended, as by `terminate`,
 * after which every call rejects at once.
 */
export function startWorker<T>(worker: Worker, name: string): WorkerBridge<T> {
  const pending = new Set<(reason: Error) => void>();
  let stopped: Error | null = null;
  const rejectPending = (reason: Error) => {
    for (const reject of pending) reject(reason);
    pending.clear();
  };
  const stop = (reason: Error) => {
    worker.terminate();
    stopped = reason;
    rejectPending(reason);
  };
  let answered = false;
  worker.addEventListener('message', () => (answered = true), { once: true });
  const failureListeners = new Set<(reason: Error) => void>();
  worker.addEventListener('error', (e) => {
    const reason = new Error(`the ${name} worker failed${answered ? '' : ' to load'}: ${e.message || 'script error'}`);
    if (answered) rejectPending(reason);
    else stop(reason);
    for (const listener of failureListeners) listener(reason);
  });
  worker.addEventListener('messageerror', () => rejectPending(new Error(`the ${name} worker sent an answer that could not be read`)));
  const call = (method: (...args: unknown[]) => Promise<unknown>, args: unknown[]) =>
    stopped
      ? Promise.reject(stopped)
      : new Promise((resolve, reject) => {
          pending.add(reject);
          method(...args)
            .then(resolve, reject)
            .finally(() => pending.delete(reject));
        });
  const at = (target: unknown): unknown =>
    new Proxy(() => {}, {
      // Not a thenable, so that the remote can be returned from an async function.
      get: (_, key) => (key === 'then' ? undefined : at((target as Record<string | symbol, unknown>)[key])),
      apply: (_, __, args: unknown[]) => call(target as (...a: unknown[]) => Promise<unknown>, args),
    });
  return {
    api: at(Comlink.wrap<T>(worker)) as RemoteApi<T>,
    terminate: (reason = new Error(`the ${name} worker was stopped`)) => stop(reason),
    onFailure: (listener) => {
      failureListeners.add(listener);
      return () => failureListeners.delete(listener);
    },
    worker,
  };
}

export type TrainingBridge = WorkerBridge<TrainingWorkerApi> & { backend: BackendInfo };

/** Starts the training Worker, picks its backend and subscribes `onStats` to its statistics batches. */
export async function startTraining(onStats: (batch: StatsBatch) => void, options?: InitOptions): Promise<TrainingBridge> {
  const bridge = startWorker<TrainingWorkerApi>(new Worker(new URL('./training.worker.ts', import.meta.url), { type: 'module', name: 'moco-training' }), 'training');
  try {
    return { ...bridge, backend: await bridge.api.training.init(Comlink.proxy(onStats), options) };
  } catch (e) {
    bridge.terminate();
    throw e;
  }
}

export class BenchmarkCancelled extends Error {
  constructor() {
    super('the benchmark was cancelled');
    this.name = 'BenchmarkCancelled';
  }
}

export interface BenchmarkRun {
  /** The report; rejects if the Worker fails to load or breaks, or on `cancel`. */
  done: Promise<BenchReport>;
  /** Ends the Worker at once (a step in flight included). */
  cancel(): void;
}

/**
 * Runs "Benchmark my GPU" in a Worker of its own, away from the training Worker's backend and
 * model, and ends that Worker when done, so that the browser frees its GPU device and memory.
 */
export function startBenchmark(request: BenchRequest, onProgress: (line: string) => void): BenchmarkRun {
  const bridge = startWorker<BenchmarkWorkerApi>(new Worker(new URL('./gpuBenchmark.worker.ts', import.meta.url), { type: 'module', name: 'moco-benchmark' }), 'benchmark');
  const done = bridge.api.benchmark.run(request, Comlink.proxy(onProgress)).finally(() => bridge.terminate());
  return { done, cancel: () => bridge.terminate(new BenchmarkCancelled()) };
}
