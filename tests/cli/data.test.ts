import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { parseTrainArgs, stepsFor } from '../../src/cli/args';
import { UsageError } from '../../src/util/options';
import { CIFAR10_RECORD_BYTES } from '../../src/data/cifar';
import { REPO_ROOT, SHARED } from '../support/helpers';

const run = promisify(execFile);
const TEST_1K = resolve(SHARED, 'data/cifar10/test_1k.bin');
const TRAIN_10K = resolve(SHARED, 'data/cifar10/train_10k.bin');

async function train(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', ...args], { cwd: REPO_ROOT, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The kNN lines: `knn@K step S: A% (bank B, queries Q, T s)`. */
function knnLines(stdout: string) {
  return [...stdout.matchAll(/^knn@(\d+) step (\d+): (\d+\.\d)% \(bank (\d+), queries (\d+), (\d+\.\d) s\)$/gm)].map((m) => ({
    k: Number(m[1]),
    step: Number(m[2]),
    accuracy: Number(m[3]),
    bank: Number(m[4]),
    queries: Number(m[5]),
    seconds: Number(m[6]),
  }));
}

function progressSteps(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter((l) => /^\s+\d+\s+\d+\.\d{3}\s/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** The first `n` records of a CIFAR-10 file, written to a temporary file. */
function cifarPrefix(source: string, n: number, name: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cli-data-')), name);
  writeFileSync(path, readFileSync(source).subarray(0, n * CIFAR10_RECORD_BYTES));
  return path;
}

describe('train options for data and evaluation', () => {
  it('parses --data, --labels, --eval, --eval-every, --epochs', () => {
    const args = parseTrainArgs(['--data', 'x.bin', '--labels', 'coarse', '--eval', 'y.bin', '--eval-every', '50', '--epochs', '2.5', '--eval-size', '100']);
    if (args === 'help') throw new Error('help');
    expect(args).toMatchObject({ data: 'x.bin', labels: 'coarse', eval: 'y.bin', evalEvery: 50, evalSize: 100, length: { epochs: 2.5 } });
    expect(args.trainSize).toBeUndefined();
    expect(stepsFor(args.length, 31)).toBe(78);
    const defaults = parseTrainArgs([]);
    if (defaults === 'help') throw new Error('help');
    expect(defaults).toMatchObject({ length: { steps: 20 }, trainSize: 5000, labels: 'fine', knnOn: ['backbone'] });
    expect(defaults.config.schedule.totalSteps).toBe(20);
    expect(stepsFor({ steps: 7 }, 31)).toBe(7);
    // The official CIFAR demo's recipe: v1's linear head with a cosine rate.
    const demo = parseTrainArgs(['--moco', 'v1', '--schedule', 'cosine']);
    const v2 = parseTrainArgs(['--schedule', 'constant']);
    if (demo === 'help' || v2 === 'help') throw new Error('help');
    expect([demo.config.schedule.cosine, defaults.config.schedule.cosine, v2.config.schedule.cosine]).toEqual([true, true, false]);
  });

  it('rejects bad combinations with a usage error', () => {
    const cases: [string[], RegExp][] = [
      [['--steps', '5', '--epochs', '1'], /give --steps or --epochs, not both/],
      [['--epochs', '0'], /--epochs must be greater than 0, got '0'/],
      [['--epochs', 'many'], /--epochs must be a number, got 'many'/],
      [['--labels', 'medium'], /--labels must be coarse or fine, got 'medium'/],
      [['--eval-every', '10'], /--eval-every needs --eval/],
      [['--eval', 'y.bin', '--knn-on', 'neck'], /--knn-on must be backbone, head or both, got 'neck'/],
      [['--knn-on', 'head'], /--knn-on needs --eval/],
      [['--data', 'x.bin', '--eval', 'builtin'], /--eval builtin goes with the built-in training data, not with --data/],
      [['--eval', 'y.bin', '--eval-every', '0'], /--eval-every must be an integer ≥ 1, got '0'/],
      [['--data', ''], /--data needs a path/],
      [['--schedule', 'step'], /--schedule must be cosine or constant, got 'step'/],
      [['--train-size', '8', '--batch', '16'], /--train-size \(8\) must be at least one batch \(16\)/],
      // Named by the option the user typed, not the configuration's field.
      [['--momentum', '2'], /^--momentum must be in \[0, 1\], got '2'$/],
      [['--temperature', '0'], /^--temperature must be greater than 0, got '0'$/],
      [['--lr', '-0.1'], /^--lr must be ≥ 0, got '-0.1'$/],
    ];
    for (const [argv, message] of cases) expect(() => parseTrainArgs(argv), argv.join(' ')).toThrow(message);
    expect(() => parseTrainArgs(['--labels', 'x'])).toThrow(UsageError);
  });
});

describe('npm run train with --data and --eval', () => {
  it('refuses a CIFAR-100 test file beside CIFAR-10 training data, naming both and the fix, before training', async () => {
    // Two CIFAR-100 records (coarse label, fine label, image): 100 fine classes.
    const heldOut = join(mkdtempSync(join(tmpdir(), 'cli-data-')), 'test.bin');
    writeFileSync(heldOut, new Uint8Array(2 * (CIFAR10_RECORD_BYTES + 1)));
    const r = await train(['--preset', 'tiny', '--batch', '16', '--queue', '32', '--steps', '3', '--data', TEST_1K, '--eval', heldOut]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${heldOut}: has 100 classes but 10 in the training data (test_1k.bin): kNN needs the same classes. Give --eval the held-out images of --data's dataset (CIFAR-10's test_batch.bin with its data_batch files, CIFAR-100's test.bin with its train.bin, an image folder with the same class folders)`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(progressSteps(r.stdout)).toEqual([]);
  }, 120_000);

  it('trains on a CIFAR-10 file and prints the kNN accuracy before, during and after training', async () => {
    const heldOut = cifarPrefix(TRAIN_10K, 60, 'held_out.bin');
    const r = await train([
      ...['--preset', 'tiny', '--batch', '16', '--queue', '32', '--steps', '3', '--log-every', '2'],
      ...['--data', TEST_1K, '--train-size', '240', '--eval', heldOut, '--eval-every', '2'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^data: test_1k\.bin, 240 images in 10 classes · 3 steps \(0\.20 epochs\) · kNN on held_out\.bin, 60 images$/m);
    expect(progressSteps(r.stdout)).toEqual([2, 3]);
    const knn = knnLines(r.stdout);
    expect(knn.map((l) => l.step)).toEqual([0, 2, 3]);
    for (const line of knn) {
      expect(line).toMatchObject({ k: 200, bank: 240, queries: 60 });
      expect(line.accuracy).toBeGreaterThanOrEqual(0);
      expect(line.accuracy).toBeLessThanOrEqual(100);
      expect(line.seconds).toBeGreaterThan(0);
    }
    // Held-out CIFAR-10 against a bank of real images: better than the 10% of guessing even untrained.
    expect(knn[0].accuracy).toBeGreaterThan(10);
    const perClass = /^knn per class: (.*)$/m.exec(r.stdout);
    expect(perClass?.[1].split(', ')).toHaveLength(10);
    expect(perClass?.[1]).toMatch(/^airplane \d+\.\d%, automobile /);
  }, 120_000);

  it('trains for --epochs on a .tar.gz archive, using its test batch for --eval', async () => {
    const records = readFileSync(TEST_1K);
    const batch = (from: number, n: number) => new Uint8Array(records.subarray(from * CIFAR10_RECORD_BYTES, (from + n) * CIFAR10_RECORD_BYTES));
    const dir = mkdtempSync(join(tmpdir(), 'cli-archive-'));
    const archive = join(dir, 'cifar-10-binary.tar.gz');
    writeFileSync(
      archive,
      gzipSync(
        createTar([
          { name: 'cifar-10-batches-bin/data_batch_1.bin', data: batch(0, 40) },
          { name: 'cifar-10-batches-bin/data_batch_2.bin', data: batch(40, 40) },
          { name: 'cifar-10-batches-bin/test_batch.bin', data: batch(80, 30) },
        ]),
      ),
    );
    const r = await train(['--preset', 'tiny', '--batch', '16', '--queue', '32', '--epochs', '0.5', '--data', archive, '--eval', archive]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: cifar-10-binary\.tar\.gz \(train\), 80 images in 10 classes · 3 steps \(0\.60 epochs\) · kNN on cifar-10-binary\.tar\.gz \(test\), 30 images/);
    expect(progressSteps(r.stdout)).toEqual([1, 2, 3]);
    expect(knnLines(r.stdout).map((l) => [l.step, l.k, l.bank, l.queries])).toEqual([
      [0, 80, 80, 30],
      [3, 80, 80, 30],
    ]);
  }, 120_000);

  it('trains on a folder of PNG images, one sub-folder per class', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-folder-'));
    const colours: Record<string, [number, number, number]> = { red: [220, 30, 30], blue: [30, 30, 220] };
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      mkdirSync(join(dir, name));
      for (let i = 0; i < 6; i++) {
        const data = Buffer.alloc(40 * 30 * 4);
        for (let p = 0; p < 40 * 30; p++) data.set([r, g, (b + 10 * i + p) % 256, 255], 4 * p);
        writeFileSync(join(dir, name, `${i}.png`), PNG.sync.write({ width: 40, height: 30, data } as PNG));
      }
    }
    const r = await train(['--preset', 'tiny', '--batch', '4', '--queue', '8', '--steps', '2', '--data', dir, '--eval', dir, '--knn-on', 'both']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: cli-folder-\w+, 12 images in 2 classes/);
    expect(knnLines(r.stdout).map((l) => [l.step, l.k, l.bank, l.queries])).toEqual([
      [0, 12, 12, 12],
      [2, 12, 12, 12],
    ]);
    // --knn-on both adds the projection head's kNN after each backbone line.
    expect(r.stdout.match(/^knn@12 \(head\) step \d: \d+\.\d% \(bank 12, queries 12, \d+\.\d s\)$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^knn per class: blue \d+\.\d%, red \d+\.\d%$/m);
  }, 120_000);

  it('refuses a folder holding a file that is no image, naming it by the path given and what to do, before training', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-notes-'));
    mkdirSync(join(dir, 'cats'));
    writeFileSync(join(dir, 'cats', '1.png'), PNG.sync.write({ width: 2, height: 2, data: Buffer.alloc(16, 200) } as PNG));
    writeFileSync(join(dir, 'cats', 'notes.txt'), 'where the cats came from');
    const r = await train(['--preset', 'tiny', '--batch', '2', '--steps', '1', '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${join(dir, 'cats', 'notes.txt')}: not an image: move it out of the folder, which should hold only images (the headless trainer reads PNG and JPEG files)`,
    );
    expect(r.stdout).toBe('');
  }, 120_000);

  it('monitors the built-in dataset on its own test split with --eval builtin', async () => {
    const r = await train(['--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '1', '--train-size', '16', '--eval', 'builtin', '--eval-size', '20']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kNN on Built-in shapes \(test\), 20 images/);
    expect(knnLines(r.stdout).map((l) => [l.step, l.k, l.bank, l.queries])).toEqual([
      [0, 16, 16, 20],
      [1, 16, 16, 20],
    ]);
    expect(r.stdout).toMatch(/^knn per class: disc \d+\.\d%, square /m);
  }, 120_000);

  it('exits 1 on bad data, naming the file, and 2 on bad options', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'cli-bad-')), 'data_batch_1.bin');
    writeFileSync(bad, new Uint8Array(30_731));
    const badData = await train(['--preset', 'tiny', '--steps', '1', '--data', bad]);
    expect(badData.code).toBe(1);
    expect(badData.stderr).toMatch(/^error: data_batch_1\.bin: 30,731 bytes is not a whole number of 3,073-byte CIFAR-10 records/);
    expect(badData.stdout).not.toMatch(/^step /m);
    const badEval = await train(['--preset', 'tiny', '--steps', '1', '--eval', join(bad, '..', 'missing.bin'), '--batch', '8', '--train-size', '16']);
    expect(badEval.code).toBe(1);
    expect(badEval.stderr).toMatch(/^error: .*missing\.bin: no such file or folder/);
    // The unpacked archive's folder: which file to give, not "put the images in class sub-folders".
    const unpacked = join(mkdtempSync(join(tmpdir(), 'cli-unpacked-')), 'cifar-10-batches-bin');
    mkdirSync(unpacked);
    for (const name of ['data_batch_1.bin', 'test_batch.bin', 'batches.meta.txt']) writeFileSync(join(unpacked, name), new Uint8Array(CIFAR10_RECORD_BYTES));
    const folder = await train(['--preset', 'tiny', '--steps', '1', '--data', unpacked]);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toBe(
      `error: ${unpacked}: is a folder of CIFAR binary files (data_batch_1.bin, test_batch.bin), not of images: give one file, e.g. ${join(unpacked, 'data_batch_1.bin')}, or the downloaded cifar-10-binary.tar.gz, which reads all its training batches (and its test batch for --eval)\n`,
    );
    const usage = await train(['--epochs', '2', '--steps', '3']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/give --steps or --epochs, not both/);
    expect(usage.stderr).toMatch(/usage: npm run train/);
  }, 120_000);
});
