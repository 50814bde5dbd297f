import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseTrainArgs } from '../../src/cli/args';
import { CheckpointWriter } from '../../src/cli/checkpointing';
import type { WriteFiles } from '../../src/cli/fileWrites';
import { JsonLog } from '../../src/cli/jsonLog';
import { generateSynthetic } from '../../src/data/synthetic';
import { datasetIdentity, emptyHistory } from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import { REPO_ROOT, useWasmBackend } from '../support/helpers';
import { progressRows, runTrainer, TRAINER, type ProgressRow } from '../support/trainer';

const train = (args: string[]) => runTrainer(args);

/** Starts a run and sends it SIGINT (Ctrl-C) as soon as it has printed the progress line of `afterStep`. */
function trainInterrupted(args: string[], afterStep: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TRAINER, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let sent = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (!sent && progressRows(stdout).some((r) => r.step === afterStep)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

function manifest(path: string) {
  return JSON.parse(strFromU8(unzipSync(readFileSync(path))['manifest.json'])) as { step: number; tensorsSha256: string; setup: { config: { schedule: { totalSteps: number } } } };
}

describe('npm run train --checkpoint / --resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moco-ckpt-'));
  const straightFile = join(dir, 'straight.zip');
  const file = join(dir, 'ck.zip');

  it('an interrupted and resumed run is the uninterrupted run: same progress lines, same final state', async () => {
    const common = ['--preset', 'tiny', '--batch', '8', '--log-every', '1'];
    const [straight, interrupted] = await Promise.all([
      train([...common, '--steps', '8', '--checkpoint', straightFile]),
      trainInterrupted([...common, '--steps', '8', '--checkpoint', file], 3),
    ]);
    expect(straight.code).toBe(0);
    expect(progressRows(straight.stdout).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Ctrl-C: the step in flight ends, the checkpoint is written, the resume command printed.
    expect(interrupted.code).toBe(130);
    const stoppedAt = manifest(file).step;
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stoppedAt).toBeLessThan(8);
    expect(progressRows(interrupted.stdout).map((r) => r.step)).toEqual(Array.from({ length: stoppedAt }, (_, i) => i + 1));
    expect(interrupted.stdout).toContain(`stopped by SIGINT after step ${stoppedAt} of 8; the run is saved in ${file}. Resume with:\n  npm run train -- --resume ${file}\n`);

    const resumed = await train(['--resume', file, '--log-every', '1']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resuming ${file}: step ${stoppedAt} of 8`);
    expect(progressRows(resumed.stdout).map((r) => r.step)).toEqual(Array.from({ length: 8 - stoppedAt }, (_, i) => stoppedAt + i + 1));
    // Loss, accuracy, similarities, queue and learning rate as printed: the same run.
    const strip = (r: ProgressRow[]) =>
      r.map(({ step, epoch, loss, accuracy, positiveSimilarity, negativeSimilarity, queue, lr }) => ({ step, epoch, loss, accuracy, positiveSimilarity, negativeSimilarity, queue, lr }));
    expect(strip([...progressRows(interrupted.stdout), ...progressRows(resumed.stdout)])).toEqual(strip(progressRows(straight.stdout)));
    // Every parameter, velocity, queue slot and generator word: the final checkpoints hold the same tensors.
    expect(manifest(file).step).toBe(8);
    expect(manifest(file).tensorsSha256).toBe(manifest(straightFile).tensorsSha256);
  }, 600_000);

  it("Ctrl-C's resume command repeats where the run writes: the resumed run saves the model and continues the log", async () => {
    const ckpt = join(dir, 'outputs.zip');
    const save = join(dir, 'saved model');
    const log = join(dir, 'run.jsonl');
    const interrupted = await trainInterrupted(
      ['--preset', 'tiny', '--batch', '8', '--steps', '6', '--backend', 'cpu', '--checkpoint', ckpt, '--save', save, '--save-key', '--log-json', log],
      2,
    );
    expect(interrupted.code).toBe(130);
    // Stopped early: no model saved yet, only the checkpoint.
    expect(existsSync(join(save, 'model.safetensors'))).toBe(false);
    const command = /Resume with:\n {2}npm run train -- (.*)\n/.exec(interrupted.stdout)?.[1];
    expect(command).toBe(`--resume ${ckpt} --backend cpu --save '${save}' --save-key --log-json ${log}`);

    // The printed command, as a shell would split it.
    const argv = [...command!.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
    const resumed = await train(argv);
    expect(resumed.code).toBe(0);
    // The end of the run says how to extend it, with the same outputs.
    expect(resumed.stdout).toContain(`checkpoint: ${ckpt} (step 6; npm run train -- ${command} --steps N continues it)`);
    expect(readdirSync(save).sort()).toEqual(['README.txt', 'key', 'metadata.json', 'model.json', 'model.safetensors', 'weights.bin']);
    const steps = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; step?: number })
      .filter((r) => r.kind === 'step')
      .map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
  }, 300_000);

  it('Ctrl-C without --checkpoint still writes --save: the steps trained are not lost', async () => {
    const save = join(dir, 'stopped model');
    const stopped = await trainInterrupted(['--preset', 'tiny', '--batch', '8', '--steps', '400', '--backend', 'cpu', '--save', save], 2);
    expect(stopped.code).toBe(130);
    const at = Math.max(...progressRows(stopped.stdout).map((r) => r.step));
    expect(at).toBeLessThan(400);
    expect(stopped.stdout).toContain(`stopped by SIGINT after step ${at} of 400; --save ${save} written (with --checkpoint, a stopped run can be resumed)`);
    const metadata = JSON.parse(readFileSync(join(save, 'metadata.json'), 'utf8')) as { step: number };
    expect(metadata.step).toBe(at);
    expect(existsSync(join(save, 'model.safetensors'))).toBe(true);
  }, 300_000);

  it('extends the budget with --steps, and refuses a shorter one', async () => {
    const shorter = await train(['--resume', straightFile, '--steps', '5']);
    expect(shorter.code).toBe(2);
    expect(shorter.stderr).toContain(`error: ${straightFile} has already trained 8 steps, more than the 5 asked for: give a larger --steps or --epochs`);
    // Its own length again: no step, the model written (train_ddp.py's way to export a checkpoint's two encoders).
    const same = await train(['--resume', straightFile, '--steps', '8', '--checkpoint', join(dir, 'same.zip'), '--save', join(dir, 'same'), '--save-key']);
    expect(same.code).toBe(0);
    expect(progressRows(same.stdout)).toEqual([]);
    expect(same.stdout).toMatch(/^trained 0 steps \(0\.00 epochs\)/m);
    expect(existsSync(join(dir, 'same', 'key', 'model.safetensors'))).toBe(true);
    const longer = await train(['--resume', straightFile, '--steps', '10', '--checkpoint', join(dir, 'longer.zip')]);
    expect(longer.code).toBe(0);
    expect(progressRows(longer.stdout).map((r) => r.step)).toEqual([9, 10]);
    expect(manifest(join(dir, 'longer.zip')).setup.config.schedule.totalSteps).toBe(10);
  }, 300_000);

  it('refuses a damaged checkpoint, other data and a changed setup with a message naming the file', async () => {
    const occupied = join(dir, 'occupied');
    mkdirSync(join(occupied, 'inside'), { recursive: true });
    const truncated = join(dir, 'truncated.zip');
    const bytes = readFileSync(straightFile);
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    const cases: [string[], number, string | RegExp][] = [
      [['--resume', truncated], 1, `error: ${truncated}: not a readable checkpoint: the zip is truncated or damaged`],
      [['--resume', join(dir, 'missing.zip')], 1, `error: ${join(dir, 'missing.zip')}: no such file`],
      [
        ['--resume', straightFile, '--train-size', '4000', '--steps', '9'],
        1,
        `error: the built-in data is not the data ${straightFile} was trained on (Built-in shapes (train), 5000 images): it has 4000 images, not 5000`,
      ],
      [['--resume', straightFile, '--batch', '16', '--preset', 'resnet8'], 2, `error: --preset, --batch cannot go with --resume: a resumed run keeps the setup recorded in ${straightFile}`],
      [['--checkpoint-every', '5'], 2, 'error: --checkpoint-every needs --checkpoint'],
      [['--steps', '1', '--checkpoint', join(dir, 'no-such-folder', 'ck.zip')], 1, /error: cannot write the checkpoint .*ck\.zip: its folder .*no-such-folder does not exist/],
      // A folder where the file should go: refused before the first step (it used to train, then fail to write), no temporary file left.
      [['--preset', 'tiny', '--batch', '8', '--train-size', '16', '--steps', '1', '--checkpoint', occupied], 2, `error: ${occupied}: is a folder, but --checkpoint writes the checkpoint as one file: give a file name, e.g. ${join(occupied, 'run.zip')}`],
    ];
    for (const [args, code, message] of cases) {
      const r = await train(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) : message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 300_000);
});

describe('CheckpointWriter when the write fails mid-run', () => {
  beforeAll(useWasmBackend);

  it('says what failed and the fix, keeps the previous checkpoint byte for byte, leaves no temporary file, and writes again once it can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-ckpt-fail-'));
    const path = join(dir, 'run.zip');
    const dataset = generateSynthetic({ size: 16, seed: 4, split: 'train' });
    const args = parseTrainArgs(['--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '3', '--checkpoint', path]);
    if (args === 'help') throw new Error('parsed as --help');
    const trainer = new Trainer({ ...args.config, schedule: { ...args.config.schedule, totalSteps: 3 } }, dataset);
    // The disk can fill up: then a write puts down what fits and fails with ENOSPC, as Node reports it.
    let diskFull = false;
    const written: string[] = [];
    const files: WriteFiles = {
      rename,
      rm,
      async writeFile(file, bytes) {
        written.push(file);
        if (!diskFull) return writeFile(file, bytes);
        await writeFile(file, bytes.subarray(0, bytes.byteLength >> 1));
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { errno: -28, code: 'ENOSPC', syscall: 'write' });
      },
    };
    const writer = new CheckpointWriter(path, { trainer, identity: await datasetIdentity(dataset), history: emptyHistory(), args, log: new JsonLog(undefined) }, files);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await trainer.step();
      expect(await writer.save()).toBe(true);
      const previous = readFileSync(path);
      expect(manifest(path).step).toBe(1);

      // The disk fills up during the next write, half-way through the file.
      await trainer.step();
      diskFull = true;
      written.length = 0;
      expect(await writer.save()).toBe(false);
      diskFull = false;
      // It was written beside the checkpoint, not over it.
      expect(written).toHaveLength(1);
      expect(dirname(written[0])).toBe(dir);
      expect(written[0]).not.toBe(path);
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([
        `error: could not write the checkpoint ${path} (ENOSPC: no space left on device, write); the previous one, if any, is intact: free space on its disk, or give --checkpoint a path on another disk`,
      ]);
      expect(readFileSync(path).equals(previous)).toBe(true);
      expect(manifest(path).step).toBe(1);
      expect(readdirSync(dir)).toEqual(['run.zip']);

      // The path taken by a non-empty folder after the run started: the rename fails, the folder keeps what it holds.
      rmSync(path);
      mkdirSync(join(path, 'inside'), { recursive: true });
      writeFileSync(join(path, 'inside', 'notes.txt'), 'mine');
      expect(await writer.save()).toBe(false);
      expect(errors.mock.calls).toHaveLength(2);
      expect(String(errors.mock.calls[1][0])).toMatch(new RegExp(`^error: could not write the checkpoint ${path} \\((EISDIR|ENOTEMPTY|EEXIST)\\b.*\\); the previous one, if any, is intact: a folder took its path: move the folder away, or give --checkpoint another file name$`));
      expect(readFileSync(join(path, 'inside', 'notes.txt'), 'utf8')).toBe('mine');
      expect(readdirSync(dir)).toEqual(['run.zip']);

      // Room again: the next save writes the run as it is now.
      rmSync(path, { recursive: true });
      await trainer.step();
      expect(await writer.save()).toBe(true);
      expect(manifest(path).step).toBe(3);
      expect(readdirSync(dir)).toEqual(['run.zip']);
      expect(errors.mock.calls).toHaveLength(2);
    } finally {
      errors.mockRestore();
      trainer.dispose();
    }
  }, 120_000);
});
