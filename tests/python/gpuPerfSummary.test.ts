import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchFile } from '../../src/bench/report';
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
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
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
    const from = mkdtempSync(join(tmpdir(), 'gpu-all-'));
    const perf = join(from, 'stage', 'perf');
    mkdirSync(join(perf, 'conv'), { recursive: true });
    copyFileSync(join(out, 'conv', benchFile), join(perf, 'conv', benchFile));
    writeFileSync(join(perf, 'summary.json'), summary);
    run('tar', ['-czf', join(from, 'perf.tar.gz'), '-C', join(from, 'stage'), 'perf']);
    const digest = run('bash', ['scripts/gpu-all-unpack.sh', from, join(from, 'runs')]);
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
