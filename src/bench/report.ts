import { access, constants, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KernelCheck } from './kernelChecks';
import type { BenchResult } from '../perf/stepBenchmark';

export type Where = 'node' | 'chromium';

/** Exit status of the Node benchmark when there is no WebGPU adapter (the caller may retry on SwiftShader). */
export const NO_ADAPTER = 3;

/** One results file: every run of one `npm run bench` invocation. */
export interface BenchFile {
  command: string;
  date: string;
  runs: { where: Where; result: BenchResult }[];
  checks: { where: Where; backend: string; checks: KernelCheck[] }[];
  /** What could not run, and why (e.g. no WebGPU adapter). */
  errors: string[];
}

export function emptyBenchFile(command: string): BenchFile {
  return { command, date: new Date().toISOString(), runs: [], checks: [], errors: [] };
}

const fmt = (x: number | null | undefined, digits = 1) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const times = (x: number | null) => (x == null ? 'n/a' : `×${x.toFixed(2)}`);

/** The short table on stdout: one row per variant, then the ratios. */
export function formatRuns(runs: BenchFile['runs']): string {
  const header = ['where', 'backend', 'preset', 'batch', 'kernels', 'img/s', 'step ms', 'host ms', 'host µs/dispatch', 'first step ms', 'dispatches', 'uploads', 'passes', 'GPU ms', 'live tensors'];
  const rows: string[][] = [];
  for (const { where, result: r } of runs) {
    for (const v of r.variants) {
      rows.push([
        where,
        r.environment.backend,
        r.preset,
        String(r.batch),
        v.variant,
        fmt(v.imagesPerSecond, 2),
        fmt(v.medianStepMs, 0),
        fmt(v.medianHostMs, 0),
        v.hostMsPerDispatch == null ? 'n/a' : fmt(v.hostMsPerDispatch * 1000, 0),
        // A later variant of the process reuses the programs compiled before it: its first step is not a fresh start.
        `${fmt(v.firstStepMs, 0)}${v.firstStepMs != null && v.compiledFirst === false ? '*' : ''}`,
        v.dispatchesPerStep == null ? 'n/a' : String(v.dispatchesPerStep),
        v.uploadsPerStep == null ? 'n/a' : String(v.uploadsPerStep),
        v.passesPerStep == null ? 'n/a' : String(v.passesPerStep),
        fmt(v.gpuMsPerStep, 1),
        `${v.liveTensors}${v.liveTensorGrowthPerStep ? ` (+${v.liveTensorGrowthPerStep}/step!)` : ''}`,
      ]);
    }
    const custom = r.variants.find((v) => v.variant === 'custom');
    if (custom && r.variants.some((v) => v.variant === 'stock'))
      rows.push(['', '', '', '', 'custom vs stock', times(r.speedup.imagesPerSecond), '', '', '', '', r.speedup.dispatches == null ? '' : `${times(r.speedup.dispatches)} fewer`, '', '', r.speedup.gpuTime == null ? '' : `${times(r.speedup.gpuTime)} less`, '']);
    for (const v of r.variants) {
      if (!custom || !v.variant.startsWith('custom+')) continue;
      const ratio = (a: number | null, b: number | null) => (a != null && b != null && b > 0 && Number.isFinite(a) ? a / b : null);
      const gpu = ratio(custom.gpuMsPerStep, v.gpuMsPerStep);
      const host = ratio(custom.medianHostMs, v.medianHostMs);
      rows.push(['', '', '', '', `${v.variant} vs custom`, times(ratio(v.imagesPerSecond, custom.imagesPerSecond)), '', host == null ? '' : `${times(host)} less`, '', '', '', '', '', gpu == null ? '' : `${times(gpu)} less`, '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const notes = [...new Set(runs.flatMap((r) => r.result.notes.map((n) => `${r.where} ${r.result.environment.backend}: ${n}`)))];
  return [line(header), ...rows.map(line), ...notes.map((n) => `note: ${n}`)].join('\n');
}

/** The largest GPU-time kernels of each run (when timed). */
export function formatGpuTimes(runs: BenchFile['runs'], top = 8): string {
  const out: string[] = [];
  for (const { where, result: r } of runs) {
    for (const v of r.variants) {
      if (!v.gpuMsByKernel) continue;
      const kernels = Object.entries(v.gpuMsByKernel).slice(0, top);
      out.push(`${where} ${r.environment.backend} ${r.preset} b${r.batch} ${v.variant}: ${kernels.map(([k, ms]) => `${k} ${ms.toFixed(1)}`).join(', ')} ms`);
    }
  }
  return out.join('\n');
}

export function formatChecks(checks: BenchFile['checks']): string {
  return checks
    .flatMap(({ where, backend, checks: cs }) =>
      cs.map((c) => `${c.passed ? 'ok  ' : 'FAIL'}  ${where} ${backend}  ${c.relativeError.toExponential(2)} (< ${c.tolerance})  ${c.name}`),
    )
    .join('\n');
}

/**
 * Makes `--out` before any benchmark runs, so that a folder that cannot be made (a file there, no
 * permission) is said at once instead of after minutes of timing, which would then be lost.
 */
export async function prepareBenchFolder(dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return null;
  } catch (e) {
    const { code } = e as NodeJS.ErrnoException;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'is a file, or under one, not a folder' : code === 'EACCES' || code === 'EPERM' ? 'is not writable by this user' : (e as Error).message;
    return `--out ${dir}: ${why}; give a folder for the results (default results)`;
  }
}

export async function writeBenchFile(dir: string, file: BenchFile, tag: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `bench-${file.date.replace(/[:.]/g, '-')}-${tag}.json`);
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`);
  return path;
}

export function printBenchFile(file: BenchFile): void {
  if (file.runs.length) {
    console.log(formatRuns(file.runs));
    const gpu = formatGpuTimes(file.runs);
    if (gpu) console.log(`\nGPU time by kernel (one profiled step):\n${gpu}`);
  }
  if (file.checks.length) console.log(formatChecks(file.checks));
  for (const e of file.errors) console.log(`error: ${e}`);
}
