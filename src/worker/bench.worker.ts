/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import type { BenchApi } from './benchApi';
import { runBenchmarks } from './benchRunner';

const api: BenchApi = {
  // Progress is fire and forget: a busy page must not hold the timed steps up.
  run: (request, onProgress) => runBenchmarks(request, (line) => void Promise.resolve(onProgress(line)).catch(() => {})),
};

Comlink.expose(api);
