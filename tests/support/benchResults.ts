/** Benchmark results as `npm run bench` and *Benchmark my GPU* report them, with figures chosen by a test. */
import type { BenchResult, Variant, VariantResult } from '../../src/perf/stepBenchmark';

/** One variant at `ms` per step of 8 images (so 8000 / ms img/s), no compile or first-step times unless `more` gives them. */
export function variantResult(variant: Variant, ms: number, dispatches: number | null, gpuMs: number | null, more: Partial<VariantResult> = {}): VariantResult {
  return {
    variant,
    imagesPerSecond: 8000 / ms,
    medianStepMs: ms,
    stepMs: [ms],
    hostStepMs: [ms],
    medianHostMs: ms,
    hostMsPerDispatch: dispatches ? ms / dispatches : null,
    firstStepMs: null,
    compileMs: null,
    compiledFirst: true,
    precompileMs: null,
    dispatchesPerStep: dispatches,
    dispatchesByProgram: null,
    gpuMsPerStep: gpuMs,
    gpuMsByKernel: null,
    gpuMsByConvolution: null,
    liveTensors: 92,
    liveTensorGrowthPerStep: 0,
    loss: 2,
    ...more,
  };
}

/** A run of the tiny preset at batch 8 on `backend`, with the speed-ups of its custom variant over its stock one. */
export function benchResult(backend: string, variants: VariantResult[], notes: string[], more: Partial<BenchResult> = {}): BenchResult {
  const get = (v: Variant) => variants.find((x) => x.variant === v);
  const stock = get('stock');
  const custom = get('custom');
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null ? a / b : null);
  return {
    date: '2026-11-29T00:00:00.000Z',
    environment: { runtime: 'test', backend, adapter: null, timestampQuery: null, gpuTimer: 'none', storageBuffersPerStage: null, tfjs: '4.22.0' },
    preset: 'tiny',
    batch: 8,
    steps: 2,
    warmup: 1,
    queueSize: 4096,
    parameters: 2588,
    flags: {},
    except: [],
    include: [],
    variants,
    speedup: {
      imagesPerSecond: ratio(custom?.imagesPerSecond, stock?.imagesPerSecond),
      dispatches: ratio(stock?.dispatchesPerStep, custom?.dispatchesPerStep),
      gpuTime: ratio(stock?.gpuMsPerStep, custom?.gpuMsPerStep),
    },
    notes,
    ...more,
  };
}
