import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatSweepTable, parseSweep, sweepRunArgv } from '../../src/cli/sweep';
import { REPO_ROOT } from '../support/helpers';

const run = promisify(execFile);

describe('--sweep', () => {
  it('parses one parameter and its values, and refuses anything else with the reason', () => {
    expect(parseSweep('momentum=0,0.9, 0.99')).toEqual({ param: 'momentum', values: ['0', '0.9', '0.99'] });
    expect(parseSweep('queue=256,16384')).toEqual({ param: 'queue', values: ['256', '16384'] });
    expect(() => parseSweep('lr=0.1')).toThrow(/can vary momentum, queue, temperature, batch, not 'lr'/);
    expect(() => parseSweep('momentum')).toThrow(/must look like momentum=0,0.9,0.99/);
    expect(() => parseSweep('momentum=0,,1')).toThrow(/needs numbers separated by commas/);
    expect(() => parseSweep('batch=8,8')).toThrow(/lists a value twice/);
  });

  it('gives each run the command line without the sweep, the swept option last', () => {
    const argv = ['--preset', 'tiny', '--sweep', 'momentum=0,0.9', '--momentum', '0.5', '--steps', '2'];
    expect(sweepRunArgv(argv, parseSweep('momentum=0,0.9'), '0.9')).toEqual(['--preset', 'tiny', '--momentum', '0.5', '--steps', '2', '--momentum', '0.9']);
    expect(sweepRunArgv(['--sweep=queue=16'], parseSweep('queue=16'), '16')).toEqual(['--queue', '16']);
  });

  it('formats a failed run as a row that says so', () => {
    const table = formatSweepTable('queue', [
      {
        value: '256',
        code: 0,
        summary: { steps: 4, finalLoss: 3.25, finalLossRatio: 0.5861, finalContrastiveAccuracy: 0.125, knn: 0.3, finalKeyLag: 0.001234, finalKeyConsistency: 0.99871, seconds: 1.25 },
      },
      { value: '70000', code: 2 },
    ]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table.split('\n')[0].trim().split(/\s+/)).toEqual(['queue', 'steps', 'loss', 'loss/ln(n+1)', 'ctr-acc', 'knn', 'key-lag', 'key-cos', 'seconds']);
    expect(table).toMatch(/256\s+4\s+3\.2500\s+0\.586\s+12\.5%\s+30\.0%\s+0\.00123\s+0\.9987\s+1\.3/);
    expect(table).toMatch(/70000.*failed \(exit 2\)/);
  });

  it('compares the loss across K by its chance level: runs at chance read 1.000 at K = 16 and at K = 4,096', () => {
    // The raw losses of two untrained runs: ln 17 = 2.83 and ln 4,097 = 8.32; chance is 1 for both.
    const atChance = (k: number) => ({ steps: 1, finalLoss: Math.log(k + 1), finalLossRatio: 1, finalContrastiveAccuracy: 1 / (k + 1), finalKeyLag: Number.NaN, finalKeyConsistency: Number.NaN, seconds: 1 });
    const table = formatSweepTable('queue', [
      { value: '16', code: 0, summary: atChance(16) },
      { value: '4096', code: 0, summary: atChance(4096) },
    ]);
    expect(table).toMatch(/\n\s+16\s+1\s+2\.8332\s+1\.000\s+5\.9%\s+–\s+–\s+–/);
    expect(table).toMatch(/\n\s+4096\s+1\s+8\.3180\s+1\.000\s+0\.0%\s+–\s+–\s+–/);
  });

  it('runs momentum 0 and 0.99 on tiny: two table rows (the key encoder trailing with 0.99 only), and one JSON line per step tagged by run', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'sweep-')), 'runs.jsonl');
    const args = ['--sweep', 'momentum=0,0.99', '--preset', 'tiny', '--batch', '8', '--steps', '5', '--train-size', '64', '--log-json', log];
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', ...args], { cwd: REPO_ROOT, timeout: 240_000 });
    const table = stdout.slice(stdout.indexOf('sweep of momentum:'));
    const rows = table.split('\n').filter((l) => /^\s*(0|0\.99)\s+5\s/.test(l));
    expect(rows).toHaveLength(2);
    const [m0, m99] = rows.map((row) => {
      const [, , loss, ratio, , , lag, cos] = row.trim().split(/\s+/);
      return { loss: Number(loss), ratio: Number(ratio), lag: Number(lag), cos: Number(cos) };
    });
    for (const r of [m0, m99]) {
      expect(r.loss).toBeGreaterThan(0);
      // 5 steps: the loss is still near its chance level ln(4 × 8 + 1) = 3.50.
      expect(r.ratio).toBeGreaterThan(0.9);
      expect(r.ratio).toBeLessThan(1.1);
    }
    // What m does at once: with m = 0 the key encoder is the query encoder; with 0.99 it trails it.
    expect(m0.lag).toBe(0);
    expect(m0.cos).toBe(1);
    expect(m99.lag).toBeGreaterThan(0);
    expect(m99.cos).toBeLessThan(1);
    expect(table).toContain('loss/ln(n+1): the loss over its chance level');
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: string; kind: string; step?: number; momentum?: number });
    const steps = records.filter((r) => r.kind === 'step');
    expect(steps.map((r) => [r.run, r.step, r.momentum])).toEqual(['momentum=0', 'momentum=0.99'].flatMap((run, i) => [1, 2, 3, 4, 5].map((step) => [run, step, [0, 0.99][i]])));
    expect(records.filter((r) => r.kind === 'setup')).toHaveLength(2);
  });
});
