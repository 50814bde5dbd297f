import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchFile } from '../../src/bench/report';
import type { ConvolutionTiming } from '../../src/perf/stepBenchmark';
import { benchResult, variantResult } from '../support/benchResults';
import { REPO_ROOT } from '../support/helpers';

// scripts/gpu-perf-summary.py's `conv` section and gpu-all-unpack.sh's digest of it, on the bench
// JSON of the conv step's SwiftShader rehearsal (docs/runs/2026-11-29-conv-rehearsal: tiny, batch 2,
// custom against tfjs's GEMM input gradient and ours, one profiled step each).
const REHEARSAL = resolve(REPO_ROOT, 'docs/runs/2026-11-29-conv-rehearsal');
const benchFile = readdirSync(REHEARSAL).find((f) => f.startsWith('bench-') && f.endsWith('.json'))!;

interface ConvVariant {
  imagesPerSecond: number;
  overCustom: number;
  convGpuMs: Record<'forward' | 'inputGradient' | 'weightGradient', number>;
  programs: Record<'forward' | 'inputGradient' | 'weightGradient', Record<string, number>>;
}
interface ConvSummary {
  fastest: Record<string, { variant: string; gpuMs?: number; customGpuMs?: number; sameProgramsAsCustom?: boolean; overCustom?: number }>;
  variants: Record<string, ConvVariant>;
  shapes: unknown[];
  perShapeChoice: Record<string, { gpuMs: number; fastestVariantGpuMs: number }>;
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** What gpu-all-unpack.sh prints from a device run whose perf part holds the conv step's `bench` JSON and `summary`. */
function digestOf(bench: string, summary: string): string {
  const from = mkdtempSync(join(tmpdir(), 'gpu-all-'));
  const perf = join(from, 'stage', 'perf');
  mkdirSync(join(perf, 'conv'), { recursive: true });
  copyFileSync(bench, join(perf, 'conv', 'bench.json'));
  writeFileSync(join(perf, 'summary.json'), summary);
  run('tar', ['-czf', join(from, 'perf.tar.gz'), '-C', join(from, 'stage'), 'perf']);
  return run('bash', ['scripts/gpu-all-unpack.sh', from, join(from, 'runs')]);
}

/** A gpu-perf.sh OUT folder holding only the conv step's JSON. */
function perfOut(): string {
  const out = mkdtempSync(join(tmpdir(), 'gpu-perf-'));
  mkdirSync(join(out, 'conv'));
  copyFileSync(join(REHEARSAL, benchFile), join(out, 'conv', benchFile));
  return out;
}

describe('gpu-perf-summary.py: the convolutions (conv step)', () => {
  it('gives each variant img/s ÷ custom and the GPU ms of each convolution phase with its programs, and each phase its fastest', () => {
    const out = perfOut();
    const summary = JSON.parse(run('python3', ['scripts/gpu-perf-summary.py', out])) as { conv: Record<string, ConvSummary>; errors: string[] };
    expect(summary.errors).toEqual([]);
    const raw = (JSON.parse(readFileSync(join(REHEARSAL, benchFile), 'utf8')) as BenchFile).runs[0].result;
    const conv = summary.conv['tiny:2'];
    expect(Object.keys(conv.variants)).toEqual(['custom', 'custom+TfjsGemmInputGradient', 'custom+Conv2DBackpropInput']);
    const custom = raw.variants.find((v) => v.variant === 'custom')!;
    for (const v of raw.variants) {
      const s = conv.variants[v.variant];
      expect(s.overCustom).toBeCloseTo(v.imagesPerSecond / custom.imagesPerSecond, 3);
      // GPU ms by the tfjs kernel each phase is, whoever's program ran it.
      expect(s.convGpuMs.forward).toBeCloseTo(v.gpuMsByKernel!.Conv2D, 3);
      expect(s.convGpuMs.inputGradient).toBeCloseTo(v.gpuMsByKernel!.Conv2DBackpropInput, 3);
      expect(s.convGpuMs.weightGradient).toBeCloseTo(v.gpuMsByKernel!.Conv2DBackpropFilter, 3);
      // The bundle's tfjs class names end in a digit; the tiny preset has 12 forward convolutions
      // (two encoders), 5 input gradients (none for the image) and 6 weight gradients.
      expect(s.programs.forward).toEqual({ Conv2DMMProgram2: 12 });
      expect(s.programs.weightGradient).toEqual({ MocoConv2DBackpropFilter: 6 });
    }
    expect(conv.variants.custom.programs.inputGradient).toEqual({ Conv2DDerInputProgram2: 5 });
    expect(conv.variants['custom+TfjsGemmInputGradient'].programs.inputGradient).toEqual({ Conv2DDerInputMMProgram2: 5 });
    expect(conv.variants['custom+Conv2DBackpropInput'].programs.inputGradient).toEqual({ MocoConv2DBackpropInput: 5 });

    const fastest = (phase: 'forward' | 'inputGradient' | 'weightGradient') =>
      Object.entries(conv.variants).reduce((a, b) => (b[1].convGpuMs[phase] < a[1].convGpuMs[phase] ? b : a))[0];
    for (const phase of ['forward', 'inputGradient', 'weightGradient'] as const) {
      const f = conv.fastest[phase];
      expect(f.variant, phase).toBe(fastest(phase));
      expect(f.customGpuMs).toBe(conv.variants.custom.convGpuMs[phase]);
      // A phase whose programs are custom's own differs from custom's by one profiled step's noise.
      expect(f.sameProgramsAsCustom).toBe(f.variant !== 'custom' && phase !== 'inputGradient');
    }
    const step = Object.entries(conv.variants).reduce((a, b) => (b[1].imagesPerSecond > a[1].imagesPerSecond ? b : a))[0];
    expect(conv.fastest.step.variant).toBe(step);
  });

  it('is printed by gpu-all-unpack.sh with the other figures for PERFORMANCE.md', () => {
    const out = perfOut();
    const summary = run('python3', ['scripts/gpu-perf-summary.py', out]);
    const digest = digestOf(join(out, 'conv', benchFile), summary);
    const conv = JSON.parse(summary).conv['tiny:2'] as ConvSummary;
    const line = (variant: string) => digest.split('\n').find((l) => l.startsWith(`  ${variant}: `));
    for (const [name, v] of Object.entries(conv.variants)) {
      expect(line(name), name).toContain(`(×${Number(v.overCustom.toPrecision(3))} custom); ${v.convGpuMs.forward.toFixed(1)} / ${v.convGpuMs.inputGradient.toFixed(1)} / ${v.convGpuMs.weightGradient.toFixed(1)} ms`);
    }
    expect(line('custom+TfjsGemmInputGradient')).toContain('Conv2DDerInputMMProgram2');
    expect(digest).toMatch(new RegExp(`fastest: forward ${conv.fastest.forward.variant.replace(/\+/g, '\\+')} `));
    expect(digest).toContain(`inputGradient ${conv.fastest.inputGradient.variant} ${conv.fastest.inputGradient.gpuMs!.toFixed(1)} ms`);
  });
});

describe('gpu-perf-summary.py: the convolutions by shape (conv step)', () => {
  // ResNet-18 b256's last stage, as the bench's profile lists it (gpuMsByConvolution), in the default
  // and in the wide forward GEMM with wide weight gradients; figures chosen so that each variant wins some shapes.
  const WIDE = 'custom+Conv2D+GemmWideTiles';
  const call = (kernel: string, inputShapes: number[][], outputShape: number[], calls: number, programs: Record<string, number>): ConvolutionTiming => ({
    kernel,
    inputShapes,
    outputShape,
    calls,
    ms: Object.values(programs).reduce((a, b) => a + b, 0),
    programs,
  });
  const lastStage = (variant: typeof WIDE | 'custom', forward: [number, number], inputGradient: number, weightGradient: number) => {
    const [conv, filterGrad] = variant === 'custom' ? ['Conv2DMMProgram2', 'MocoConv2DBackpropFilter'] : ['MocoConv2DWide', 'MocoConv2DBackpropFilterWide'];
    const convolutions = [
      // 3 layers 512 → 512 (3×3, stride 1) × 2 encoders, then the stage's strided 256 → 512.
      call('Conv2D', [[256, 4, 4, 512], [3, 3, 512, 512]], [256, 4, 4, 512], 6, { [conv]: forward[0] }),
      call('Conv2D', [[256, 8, 8, 256], [3, 3, 256, 512]], [256, 4, 4, 512], 2, { [conv]: forward[1] }),
      // tfjs's direct input gradient in both (dy, filter → dx).
      call('Conv2DBackpropInput', [[256, 4, 4, 512], [3, 3, 256, 512]], [256, 8, 8, 256], 1, { Conv2DDerInputProgram2: inputGradient }),
      // x, dy → dW.
      call('Conv2DBackpropFilter', [[256, 4, 4, 512], [256, 4, 4, 512]], [3, 3, 512, 512], 3, { [filterGrad]: weightGradient }),
    ];
    const byKernel: Record<string, number> = {};
    for (const c of convolutions) byKernel[c.kernel] = (byKernel[c.kernel] ?? 0) + c.ms;
    return variantResult(variant, 50, 200, 100, { gpuMsByKernel: byKernel, gpuMsByConvolution: convolutions });
  };

  it("gives every convolution shape (phase, x, filter, stride) each variant's GPU ms and programs, and its fastest", () => {
    const result = benchResult('webgpu', [lastStage('custom', [3, 1.2], 0.8, 2), lastStage(WIDE, [4.2, 0.9], 0.75, 1.8)], [], { preset: 'resnet18', batch: 256 });
    const file: BenchFile = { command: 'bench', date: result.date, runs: [{ where: 'node', result }], checks: [], errors: [] };
    const out = mkdtempSync(join(tmpdir(), 'gpu-perf-'));
    mkdirSync(join(out, 'conv'));
    writeFileSync(join(out, 'conv', 'bench-shapes.json'), JSON.stringify(file));
    const summary = run('python3', ['scripts/gpu-perf-summary.py', out]);
    const conv = (JSON.parse(summary) as { conv: Record<string, ConvSummary> }).conv['resnet18:256'];
    expect(conv.shapes).toEqual([
      {
        phase: 'forward',
        x: [256, 4, 4, 512],
        filter: [3, 3, 512, 512],
        stride: 1,
        calls: 6,
        gpuMs: { custom: 3, [WIDE]: 4.2 },
        programs: { custom: { Conv2DMMProgram2: 3 }, [WIDE]: { MocoConv2DWide: 4.2 } },
        fastest: { variant: 'custom', gpuMs: 3, customGpuMs: 3, overCustom: 1, sameProgramsAsCustom: false },
      },
      {
        phase: 'forward',
        x: [256, 8, 8, 256],
        filter: [3, 3, 256, 512],
        stride: 2,
        calls: 2,
        gpuMs: { custom: 1.2, [WIDE]: 0.9 },
        programs: { custom: { Conv2DMMProgram2: 1.2 }, [WIDE]: { MocoConv2DWide: 0.9 } },
        fastest: { variant: WIDE, gpuMs: 0.9, customGpuMs: 1.2, overCustom: 0.75, sameProgramsAsCustom: false },
      },
      {
        // x is the input gradient's output, the stride read from dy's size against it.
        phase: 'inputGradient',
        x: [256, 8, 8, 256],
        filter: [3, 3, 256, 512],
        stride: 2,
        calls: 1,
        gpuMs: { custom: 0.8, [WIDE]: 0.75 },
        programs: { custom: { Conv2DDerInputProgram2: 0.8 }, [WIDE]: { Conv2DDerInputProgram2: 0.75 } },
        // tfjs's own program in both: faster by a profiled step's noise, not a win.
        fastest: { variant: WIDE, gpuMs: 0.75, customGpuMs: 0.8, overCustom: 0.938, sameProgramsAsCustom: true },
      },
      {
        phase: 'weightGradient',
        x: [256, 4, 4, 512],
        filter: [3, 3, 512, 512],
        stride: 1,
        calls: 3,
        gpuMs: { custom: 2, [WIDE]: 1.8 },
        programs: { custom: { MocoConv2DBackpropFilter: 2 }, [WIDE]: { MocoConv2DBackpropFilterWide: 1.8 } },
        fastest: { variant: WIDE, gpuMs: 1.8, customGpuMs: 2, overCustom: 0.9, sameProgramsAsCustom: false },
      },
    ]);
    // Per phase, the fastest variant as a whole (custom's forward, 4.2 ms against 5.1) against each shape on its fastest (3 + 0.9).
    expect(conv.fastest.forward).toMatchObject({ variant: 'custom', gpuMs: 4.2 });
    expect(conv.perShapeChoice).toEqual({
      forward: { gpuMs: 3.9, fastestVariantGpuMs: 4.2 },
      inputGradient: { gpuMs: 0.75, fastestVariantGpuMs: 0.75 },
      weightGradient: { gpuMs: 1.8, fastestVariantGpuMs: 1.8 },
    });
    // gpu-all-unpack.sh's digest: a line per shape, one per phase so chosen.
    const digest = digestOf(join(out, 'conv', 'bench-shapes.json'), summary).split('\n');
    expect(digest).toContain(`  forward x 256×8×8×256, filter 3×3×256×512, stride 2 (×2): ${WIDE} 0.9 ms (custom 1.2; MocoConv2DWide)`);
    expect(digest).toContain(`  inputGradient x 256×8×8×256, filter 3×3×256×512, stride 2 (×1): ${WIDE} 0.8 ms (custom 0.8; Conv2DDerInputProgram2, same programs as custom: noise)`);
    expect(digest).toContain('  forward with each shape on its fastest: 3.9 ms (fastest variant 4.2)');
  });

  it("gives the rehearsal's every convolution call a shape, each shape's times adding up to the phase's (docs/runs/2026-11-29-conv-shapes-rehearsal)", () => {
    const folder = resolve(REPO_ROOT, 'docs/runs/2026-11-29-conv-shapes-rehearsal');
    const bench = readdirSync(folder).find((f) => f.startsWith('bench-') && f.endsWith('.json'))!;
    const out = mkdtempSync(join(tmpdir(), 'gpu-perf-'));
    mkdirSync(join(out, 'conv'));
    copyFileSync(join(folder, bench), join(out, 'conv', bench));
    const conv = (JSON.parse(run('python3', ['scripts/gpu-perf-summary.py', out])) as { conv: Record<string, ConvSummary> }).conv['tiny:2'];
    const shapes = conv.shapes as { phase: 'forward' | 'inputGradient' | 'weightGradient'; stride: number; calls: number; gpuMs: Record<string, number>; programs: Record<string, Record<string, number>> }[];
    const phases = ['forward', 'inputGradient', 'weightGradient'] as const;
    // The tiny preset: 12 forward convolutions (two encoders), 5 input gradients, 6 weight gradients; two of its six convolutions have stride 2.
    expect(phases.map((p) => shapes.filter((s) => s.phase === p).reduce((n, s) => n + s.calls, 0))).toEqual([12, 5, 6]);
    expect(phases.map((p) => shapes.filter((s) => s.phase === p && s.stride === 2).length)).toEqual([2, 2, 2]);
    for (const [name, v] of Object.entries(conv.variants))
      for (const phase of phases) {
        const shapeMs = shapes.filter((s) => s.phase === phase).reduce((t, s) => t + s.gpuMs[name], 0);
        expect(shapeMs, `${name} ${phase}`).toBeCloseTo(v.convGpuMs[phase], 1);
        // Each shape ran the programs its variant ran for the phase (the dispatch count's, by name).
        for (const s of shapes.filter((x) => x.phase === phase)) expect(Object.keys(s.programs[name]), `${name} ${phase}`).toEqual(Object.keys(v.programs[phase]));
      }
  });
});
