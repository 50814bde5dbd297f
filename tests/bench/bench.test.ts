import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { batchOf, benchArgv, checkIncludes, parseBenchArgs, type BenchArgs } from '../../src/bench/args';
import { formatRuns } from '../../src/bench/report';
import { benchmarkStep } from '../../src/perf/stepBenchmark';
import { benchResult, variantResult } from '../support/benchResults';
import { REPO_ROOT, useCpuBackend } from '../support/helpers';

describe('npm run bench: options', () => {
  it('has small defaults that run without a GPU', () => {
    const a = parseBenchArgs([]) as BenchArgs;
    expect(a).toMatchObject({ presets: ['tiny'], batch: 8, steps: 3, warmup: 1, where: ['node', 'chromium'], backends: ['webgpu', 'webgl'], out: 'results' });
  });

  it('parses every option and round-trips through the child-process argument list', () => {
    const argv = ['--preset', 'resnet8:128,resnet18', '--batch=16', '--steps', '5', '--warmup', '2', '--queue', '512', '--where', 'node', '--backend', 'webgpu,cpu'];
    argv.push('--no-profile', '--except', 'Conv2DBackpropFilter,SplitBatchNorm', '--include', 'Conv2DBackpropInput', '--variants', 'custom,custom+BatchNormRowSplit');
    argv.push('--flag', 'WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64', '--out', 'r');
    const a = parseBenchArgs(argv) as BenchArgs;
    expect(a).toMatchObject({ presets: ['resnet8', 'resnet18'], batch: 16, steps: 5, warmup: 2, queueSize: 512, where: ['node'], backends: ['webgpu', 'cpu'], profile: false });
    expect([batchOf(a, 'resnet8'), batchOf(a, 'resnet18')]).toEqual([128, 16]);
    expect(a.except).toEqual(['Conv2DBackpropFilter', 'SplitBatchNorm']);
    expect(a.include).toEqual(['Conv2DBackpropInput']);
    expect(a.variants).toEqual(['custom', 'custom+BatchNormRowSplit']);
    expect(a.flags).toEqual({ WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 64 });
    expect(parseBenchArgs(benchArgv(a))).toEqual(a);
    const counts = parseBenchArgs(['--count-only']) as BenchArgs;
    expect(counts).toMatchObject({ countOnly: true, steps: 0, warmup: 1, profile: false });
    expect(parseBenchArgs(['--help'])).toBe('help');
  });

  it('--check runs the MoCo-step check once per custom variant, with the opt-ins of --include', () => {
    expect(checkIncludes(parseBenchArgs(['--check']) as BenchArgs)).toEqual([[]]);
    expect(checkIncludes(parseBenchArgs(['--check', '--variants', 'stock']) as BenchArgs)).toEqual([[]]);
    const a = parseBenchArgs(['--check', '--include', 'BindingCache', '--variants', 'stock,custom,custom+Conv2D+GemmWideTiles']) as BenchArgs;
    expect(checkIncludes(a)).toEqual([['BindingCache'], ['BindingCache', 'Conv2D', 'GemmWideTiles']]);
  });

  it('rejects bad options with a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['--preset', 'resnet9'], /--preset must be one of tiny, resnet8/],
      [['--preset', 'resnet8:1'], /--preset batch must be an integer ≥ 2/],
      [['--batch', '1'], /--batch must be an integer ≥ 2/],
      [['--where', 'firefox'], /--where takes node and\/or chromium/],
      [['--backend', 'wasm'], /--backend takes webgpu, webgl, cpu/],
      [['--flag', 'X'], /--flag takes NAME=VALUE/],
      [['--variants', 'fast'], /--variants takes stock, custom, custom\+OPT_IN…, got 'fast'/],
      [['--variants', 'custom+'], /--variants takes stock, custom, custom\+OPT_IN…, got 'custom\+'/],
      // A misspelt opt-in would time the default twice, unnoticed (a GPU session lost).
      [['--variants', 'custom,custom+TfjsGemInputGradient'], /--variants names our kernels and their options \(.*TfjsGemmInputGradient.*\), got 'TfjsGemInputGradient'/],
      [['--include', 'BatchNormRowSplitt'], /--include names our kernels .*, got 'BatchNormRowSplitt'/],
      [['--except', 'Conv3D'], /--except names our kernels .*, got 'Conv3D'/],
      [['--steps'], /--steps needs a value/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [argv, message] of cases) expect(() => parseBenchArgs(argv), argv.join(' ')).toThrow(message);
  });
});

describe('npm run bench: the table', () => {
  it('refuses an --out that is a file before timing anything, naming it (the results were lost after the run)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-out-')), 'results');
    writeFileSync(file, 'keep me');
    for (const out of [file, join(file, 'sub')]) {
      const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/bench/cli.ts', '--where', 'node', '--backend', 'cpu', '--count-only', '--out', out], {
        cwd: REPO_ROOT,
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`error: --out ${out}: is a file, or under one, not a folder; give a folder for the results (default results)\n`);
      expect(r.stdout).toBe('');
    }
  }, 120_000);

  it('shows a row per variant, the ratios, and n/a where a figure is missing', () => {
    // A first step 1.5 s longer than the others: its compile time.
    // Host parts of 3,000 and 430 ms: 3,356 and 2,000 µs per dispatch.
    // The custom variant stepped second: its first step reused what stock compiled, and is marked.
    // Uploads from the CPU and compute passes per step: 261 and 290 (stock), 4 and 9 (custom).
    const variant = (v: 'stock' | 'custom', ms: number, host: number, dispatches: number, uploads: number, passes: number) =>
      variantResult(v, ms, dispatches, null, { firstStepMs: ms + 1500, compileMs: 1500, compiledFirst: v === 'stock', dispatchesByProgram: {}, hostStepMs: [host], medianHostMs: host, hostMsPerDispatch: host / dispatches, uploadsPerStep: uploads, passesPerStep: passes });
    const result = benchResult('webgpu', [variant('stock', 4000, 3000, 894, 261, 290), variant('custom', 2000, 430, 215, 4, 9)], ["no GPU time: the adapter has no 'timestamp-query'"]);
    const table = formatRuns([{ where: 'node', result }]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/where\s+backend\s+preset\s+batch\s+kernels\s+img\/s\s+step ms\s+host ms\s+host µs\/dispatch\s+first step ms\s+dispatches\s+uploads\s+passes\s+GPU ms\s+live tensors/);
    expect(lines[1]).toMatch(/node\s+webgpu\s+tiny\s+8\s+stock\s+2\.00\s+4000\s+3000\s+3356\s+5500\s+894\s+261\s+290\s+n\/a\s+92/);
    expect(lines[1]).not.toContain('*');
    expect(lines[2]).toMatch(/custom\s+4\.00\s+2000\s+430\s+2000\s+3500\*\s+215\s+4\s+9\s+n\/a/);
    expect(lines[3]).toMatch(/custom vs stock\s+×2\.00\s+×4\.16 fewer/);
    expect(table).toMatch(/note: node webgpu: no GPU time/);
  });
});

describe('npm run bench: first-step times', () => {
  it("say that only the process's first variant compiled the shared programs (tfjs's CPU backend, tiny preset)", async () => {
    await useCpuBackend();
    const result = await benchmarkStep({ preset: 'tiny', batch: 2, steps: 1, warmup: 1, queueSize: 16, variants: ['stock', 'custom'], profile: false, countDispatches: false });
    expect(result.variants.map((v) => [v.variant, v.compiledFirst])).toEqual([
      ['stock', true],
      ['custom', false],
    ]);
    expect(result.notes).toContain(
      "first step ms (and compileMs): only stock's include compiling the programs all variants share; the others (marked *) reuse them: run one variant per process to compare compile times",
    );
    const table = formatRuns([{ where: 'node', result }]);
    // custom, img/s, step ms, host ms, host µs per dispatch (n/a: no dispatches on the CPU), first step ms*
    expect(table.split('\n')[2]).toMatch(/custom\s+\S+\s+\d+\s+\d+\s+\S+\s+\d+\*/);
  }, 120_000);
});
