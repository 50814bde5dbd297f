/**
 * "Benchmark my GPU" in the app, the page's half: what is asked and reported, and what the page
 * concludes from the runs (the sizes to time, the fastest configuration, the table rows, the
 * one-line recommendation). Plain types and functions (no tfjs), shared by the Worker side
 * (./gpuBenchmark) and the page. The step itself is timed by perf/stepBenchmark, as in `npm run bench`.
 */
import type { BenchResult, Variant } from '../perf/stepBenchmark';
import type { MocoVersion } from '../moco/config';
import type { PresetName } from '../moco/resnet';
import { BACKEND_LABELS, type BackendName } from './types';

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

/** Device names of renderers that run on the CPU (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, Windows' WARP). */
const SOFTWARE_DEVICE = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

export function isSoftwareDevice(device: string | null): boolean {
  return device !== null && SOFTWARE_DEVICE.test(device);
}

/** The user's step on a GPU; the small fixed one when any device to time renders in software. */
export function benchSizes(request: BenchRequest, software: boolean): BenchSizes {
  if (software) return { ...SOFTWARE_SIZES, version: request.version, basis: 'software' };
  return { preset: request.preset, batch: request.batch, version: request.version, queueSize: request.queueSize, ...GPU_TIMING, basis: 'setup' };
}

export function describeSizes(s: BenchSizes): string {
  const what = `MoCo ${s.version}, ${s.preset} at batch ${s.batch}, queue ${s.queueSize}; ${s.warmup} warm-up + ${s.steps} timed steps per variant`;
  return s.basis === 'software' ? `${what} (a software device: the small default instead of your setup)` : `${what} (your setup)`;
}

export function fastestVariant(runs: BackendRun[]): BenchReport['fastest'] {
  let best: BenchReport['fastest'] = null;
  for (const run of runs)
    for (const v of run.result?.variants ?? [])
      if (Number.isFinite(v.imagesPerSecond) && v.imagesPerSecond > (best?.imagesPerSecond ?? 0))
        best = { backend: run.backend, variant: v.variant, imagesPerSecond: v.imagesPerSecond };
  return best;
}

/** "WebGPU with our kernels", "WebGPU with stock tfjs kernels", "WebGL" (tfjs's own kernels only there). */
export function configurationLabel(backend: BackendName, variant: Variant): string {
  if (backend !== 'webgpu') return BACKEND_LABELS[backend];
  return variant === 'custom' ? 'WebGPU with our kernels' : 'WebGPU with stock tfjs kernels';
}

/** 2.16 → "2.2×", 12.4 → "12×", 0.456 → "0.46×". */
export function formatRatio(x: number): string {
  return `${Number(x.toPrecision(2))}×`;
}

export interface BenchRow {
  backend: BackendName;
  variant: Variant;
  /** 'ours' or 'stock', as the table says it. */
  kernels: 'ours' | 'stock';
  device: string | null;
  software: boolean;
  imagesPerSecond: number;
  stepMs: number;
  /** The host's part of the step: recording and submitting its commands (perf/hostTimer.ts); the rest waits on the GPU. */
  hostMs: number;
  dispatches: number | null;
  /** Why there is no dispatch count. */
  dispatchesNote: string | null;
  gpuMs: number | null;
  /** Why there is no GPU time. */
  gpuNote: string | null;
  /** Our kernels against stock on the same backend: img/s ratio, and stock ÷ ours for dispatches and GPU time. */
  vsStock: { imagesPerSecond: number | null; dispatches: number | null; gpuTime: number | null } | null;
  /** img/s as a fraction of the fastest row's. */
  relative: number;
  fastest: boolean;
}

export interface BenchFailure {
  backend: BackendName;
  error: string;
}

export function benchTable(report: BenchReport): { rows: BenchRow[]; failures: BenchFailure[] } {
  const rows: BenchRow[] = [];
  const failures: BenchFailure[] = [];
  const top = report.fastest?.imagesPerSecond ?? NaN;
  for (const run of report.runs) {
    const result = run.result;
    if (!result) {
      failures.push({ backend: run.backend, error: run.error ?? 'no result' });
      continue;
    }
    const dispatchNote = result.notes.find((n) => /dispatch/i.test(n)) ?? null;
    const gpuNote = result.notes.find((n) => /^no GPU time/i.test(n)) ?? result.notes.find((n) => /GPU ms/.test(n)) ?? null;
    // Ours first: the row the comparison is about.
    const variants = [...result.variants].sort((a, b) => (a.variant === b.variant ? 0 : a.variant === 'custom' ? -1 : 1));
    for (const v of variants) {
      rows.push({
        backend: run.backend,
        variant: v.variant,
        kernels: v.variant === 'custom' ? 'ours' : 'stock',
        device: run.device,
        software: run.software,
        imagesPerSecond: v.imagesPerSecond,
        stepMs: v.medianStepMs,
        hostMs: v.medianHostMs,
        dispatches: v.dispatchesPerStep,
        dispatchesNote: v.dispatchesPerStep === null ? (dispatchNote ?? 'not counted') : null,
        gpuMs: v.gpuMsPerStep,
        gpuNote: v.gpuMsPerStep === null ? (gpuNote ?? 'not measured') : null,
        vsStock: v.variant === 'custom' && result.variants.some((s) => s.variant === 'stock') ? result.speedup : null,
        relative: v.imagesPerSecond / top,
        fastest: report.fastest !== null && report.fastest.backend === run.backend && report.fastest.variant === v.variant,
      });
    }
  }
  return { rows, failures };
}

/** The fastest row of each backend that ran, fastest first. */
function bestPerBackend(rows: BenchRow[]): BenchRow[] {
  const best = new Map<BackendName, BenchRow>();
  for (const r of rows) {
    const b = best.get(r.backend);
    if (Number.isFinite(r.imagesPerSecond) && (!b || r.imagesPerSecond > b.imagesPerSecond)) best.set(r.backend, r);
  }
  return [...best.values()].sort((a, b) => b.imagesPerSecond - a.imagesPerSecond);
}

/**
 * One line: the fastest configuration against the best of the next backend, how our kernels do
 * against stock on WebGPU, and how to switch when the app trains on a slower backend than the fastest.
 */
export function recommendation(report: BenchReport, trainingBackend: BackendName | null): string {
  const { rows, failures } = benchTable(report);
  const ranked = bestPerBackend(rows);
  if (ranked.length === 0) return `Nothing could be timed here: ${failures.map((f) => f.error).join('; ') || 'no backend ran'}.`;
  const [best, next] = ranked;
  const parts: string[] = [];
  if (next) {
    parts.push(`${configurationLabel(best.backend, best.variant)} is ${formatRatio(best.imagesPerSecond / next.imagesPerSecond)} as fast as ${configurationLabel(next.backend, next.variant)} here`);
  } else {
    const missing = failures.map((f) => f.error).join('; ');
    parts.push(`Only ${BACKEND_LABELS[best.backend]} ran here${missing ? ` (${missing})` : ''}`);
  }
  const ours = rows.find((r) => r.backend === 'webgpu' && r.variant === 'custom');
  const speedup = ours?.vsStock?.imagesPerSecond;
  if (speedup != null) parts.push(`our WebGPU kernels are ${formatRatio(speedup)} as fast as stock tfjs's`);
  let line = parts.join('; ');
  if (trainingBackend && trainingBackend !== best.backend && rows.some((r) => r.backend === trainingBackend))
    line += ` — the app trains on ${BACKEND_LABELS[trainingBackend]}; open it with ?backend=${best.backend} to train on ${BACKEND_LABELS[best.backend]}`;
  return `${line}.`;
}
