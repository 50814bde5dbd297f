/**
 * The boundary between the page and the benchmark Worker ("Benchmark my GPU", issue #5). A Worker
 * of its own, so that the training Worker's backend, model and GPU memory stay as they are.
 *
 * Types and plain constants only: the page imports this without pulling tfjs in.
 */
import type { BenchResult, Variant } from '../perf/stepBenchmark';
import type { MocoVersion } from '../moco/config';
import type { PresetName } from '../moco/resnet';
import type { BackendName } from './api';

/** What the user trains with; the benchmark times the same step. */
export interface BenchRequest {
  preset: PresetName;
  batch: number;
  version: MocoVersion;
  queueSize: number;
  /** Backends to time, in order; default WebGPU, then WebGL (the CPU is for tests: minutes per step at real sizes). */
  backends?: BackendName[];
}

/** The sizes actually timed. */
export interface BenchSizes {
  preset: PresetName;
  batch: number;
  version: MocoVersion;
  queueSize: number;
  warmup: number;
  steps: number;
  /** 'setup': the user's preset and batch; 'software': a software device, where those would take minutes. */
  basis: 'setup' | 'software';
}

/**
 * A software device (SwiftShader, llvmpipe…) runs the tiny preset at batch 8, as docs/PERFORMANCE.md's
 * SwiftShader runs do: a ResNet-18 step at batch 8 already takes about a minute there.
 */
export const SOFTWARE_SIZES = { preset: 'tiny', batch: 8, warmup: 1, steps: 2, queueSize: 4096 } as const;

/** On a GPU: enough untimed steps for pipeline compilation and buffer pools, an odd count for the median. */
export const GPU_TIMING = { warmup: 2, steps: 5 } as const;

export interface BackendRun {
  backend: BackendName;
  /** The adapter (WebGPU) or renderer (WebGL) as the browser names it, when it says. */
  device: string | null;
  software: boolean;
  result: BenchResult | null;
  /** Why there is no result: the backend is unavailable here, or the run failed. */
  error: string | null;
}

export interface BenchReport {
  sizes: BenchSizes;
  runs: BackendRun[];
  /** The highest img/s over every backend and kernel variant; null when nothing ran. */
  fastest: { backend: BackendName; variant: Variant; imagesPerSecond: number } | null;
  /** Wall time of the whole benchmark. */
  ms: number;
}

export interface BenchApi {
  /** Times each backend in turn, with progress lines as it goes; rejects only if the Worker itself breaks. */
  run(request: BenchRequest, onProgress: (line: string) => void): Promise<BenchReport>;
}
