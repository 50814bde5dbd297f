/**
 * `npm run train -- --record FILE.zip`: a few tiny steps write a recording that the app's reader
 * parses, with every step, the kNN and probe results of the run, and its final checkpoint; the
 * option's misuses are refused before any work.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeRecording } from '../../src/train/recording';
import { runTrainer } from '../support/trainer';

describe('npm run train --record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moco-record-'));

  it('writes a recording of every step, kNN and probe, with the final checkpoint, that parses', async () => {
    const file = join(dir, 'class.zip');
    const args = ['--preset', 'tiny', '--batch', '8', '--queue', '32', '--steps', '4', '--train-size', '64', '--eval', 'builtin', '--eval-size', '40', '--eval-every', '2', '--probe-epochs', '2', '--backend', 'cpu', '--record', file];
    const run = await runTrainer(args, { timeoutMs: 240_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^recording: .*class\.zip \(4 steps, 3 kNN and 3 probe results, final model; [\d.]+ MB\)$/m);
    const printedKnn = [...run.stdout.matchAll(/^knn@\d+ step (\d+): ([\d.]+)%/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    const printedProbe = [...run.stdout.matchAll(/^probe step (\d+): ([\d.]+)%/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    const losses = run.stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l)).map((l) => Number(l.trim().split(/\s+/)[2]));

    const r = decodeRecording(new Uint8Array(readFileSync(file)), file);
    const m = r.manifest;
    expect(Array.from(r.columns.step)).toEqual([1, 2, 3, 4]);
    // The printed losses are the recorded ones, rounded to 4 places.
    expect(Array.from(r.columns.loss, (l) => Number(l.toFixed(4)))).toEqual(losses);
    expect(m.knn.map((k) => [k.step, Number((100 * k.accuracy).toFixed(1))])).toEqual(printedKnn);
    expect(m.probes.map((p) => [p.step, Number((100 * p.accuracy).toFixed(1))])).toEqual(printedProbe);
    expect(printedKnn.map(([s]) => s)).toEqual([0, 2, 4]);
    expect(m.setup).toMatchObject({ preset: 'tiny', method: 'v2', batchSize: 8, steps: 4, heldOut: { size: 40 } });
    expect(m.setup.dataset).toMatchObject({ size: 64, classes: 10 });
    expect(m.made.backend).toBe('CPU (tfjs), as asked');
    // Off WebGPU the device is the processor (unless the recording's maker names it).
    if (!process.env.MOCO_RECORD_DEVICE) expect(m.made.device).toBe(`${cpus()[0].model.trim()} (${cpus().length} cores)`);
    expect(m.made.command).toBe(`npm run train -- ${args.join(' ')}`);
    expect(m.made.imagesPerSecond).toBeGreaterThan(0);
    expect(m.made.wallSeconds).toBeGreaterThan(m.made.trainSeconds);
    const checkpoint = JSON.parse(strFromU8(unzipSync(r.checkpoint)['manifest.json'])) as { step: number; format: string };
    expect([checkpoint.format, checkpoint.step]).toEqual(['moco-checkpoint', 4]);
  }, 300_000);

  it('refuses --record without a .zip name, with --resume or --sweep, before any work', async () => {
    const cases: [string[], RegExp][] = [
      [['--record', join(dir, 'out')], /--record writes one zip file: give a name ending in \.zip/],
      [['--record', join(dir, 'r.zip'), '--resume', join(dir, 'ck.zip')], /--record follows a run from its first step: it cannot go with --resume/],
      [['--record', join(dir, 'r.zip'), '--sweep', 'momentum=0,0.9'], /--checkpoint, --resume and --record follow one run/],
      [['--probe-epochs', '3'], /--probe-epochs needs --eval/],
    ];
    for (const [args, message] of cases) {
      const run = await runTrainer(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(existsSync(join(dir, 'r.zip'))).toBe(false);
  }, 120_000);
});
