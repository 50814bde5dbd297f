/// <reference lib="webworker" />
/**
 * The "Benchmark my GPU" Worker: a Worker of its own, so that the training Worker's backend, model
 * and GPU memory stay as they are. The page's types are those of this code (`BenchmarkWorkerApi`).
 */
import * as Comlink from 'comlink';
import { serve } from './expose';
import { runBenchmarks } from './gpuBenchmark';

const api = { benchmark: serve({ run: runBenchmarks }, ['run']) };

export type BenchmarkWorkerApi = typeof api;

Comlink.expose(api);
