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
      { value: '256', code: 0, summary: { steps: 4, finalLoss: 3.25, finalContrastiveAccuracy: 0.125, knn: 0.3, seconds: 1.25 } },
      { value: '70000', code: 2 },
    ]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toMatch(/256\s+4\s+3\.2500\s+12\.5%\s+30\.0%\s+1\.3/);
    expect(table).toMatch(/70000.*failed \(exit 2\)/);
  });

  it('runs momentum 0 and 0.99 on tiny: two table rows, and one JSON line per step tagged by run', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'sweep-')), 'runs.jsonl');
    const args = ['--sweep', 'momentum=0,0.99', '--preset', 'tiny', '--batch', '8', '--steps', '2', '--train-size', '64', '--log-json', log];
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', ...args], { cwd: REPO_ROOT, timeout: 240_000 });
    const table = stdout.slice(stdout.indexOf('sweep of momentum:'));
    const rows = table.split('\n').filter((l) => /^\s*(0|0\.99)\s+2\s/.test(l));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(Number(row.trim().split(/\s+/)[2])).toBeGreaterThan(0);
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: string; kind: string; step?: number; momentum?: number });
    const steps = records.filter((r) => r.kind === 'step');
    expect(steps.map((r) => [r.run, r.step, r.momentum])).toEqual([
      ['momentum=0', 1, 0],
      ['momentum=0', 2, 0],
      ['momentum=0.99', 1, 0.99],
      ['momentum=0.99', 2, 0.99],
    ]);
    expect(records.filter((r) => r.kind === 'setup')).toHaveLength(2);
  });
});
