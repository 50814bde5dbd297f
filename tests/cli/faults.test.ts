/**
 * The headless trainer facing faults: a diverging run stops at the step it diverged with the likely
 * cause, a blown-up loss is flagged, and no input error (permissions, pipes, links, output paths,
 * options) ends in a stack trace.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadDataPath, readImageFolder } from '../../src/cli/dataFiles';
import { REPO_ROOT, SHARED } from '../support/helpers';
import { cifarBytes, expectDatasetErrorAsync } from '../support/dataFixtures';

const run = promisify(execFile);
const TEST_1K = resolve(SHARED, 'data/cifar10/test_1k.bin');
const IS_ROOT = process.getuid?.() === 0;

/** The trainer as a user runs it; `asUser` runs it as nobody (setpriv), for whom permissions hold even when the tests run as root. */
async function train(args: string[], asUser = false) {
  const command = asUser ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [process.execPath];
  try {
    const { stdout, stderr } = await run(command[0], [...command.slice(1), '--import', 'tsx', 'src/cli/train.ts', ...args], { cwd: REPO_ROOT, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function stepLines(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter((l) => /^\s+\d+\s+\d+\.\d{3}\s/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

function png(value: number): Buffer {
  return PNG.sync.write(Object.assign(new PNG({ width: 8, height: 8 }), { data: Buffer.alloc(256, value) }));
}

/** A scratch folder that the unprivileged user of `train(…, true)` can enter. */
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** No input error may show a stack trace. */
function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/RangeError|TypeError/);
}

describe('the non-finite guard of npm run train', () => {
  it('stops at the step the loss became NaN, not at the next logged one, naming the learning rate', async () => {
    const r = await train(['--preset', 'tiny', '--batch', '8', '--train-size', '64', '--steps', '20', '--log-every', '5', '--lr', '1e30', '--save', join(scratch('nan-'), 'out')]);
    expect(r.code).toBe(1);
    const nanStep = Number(/the loss became NaN at step (\d+)/.exec(r.stderr)?.[1]);
    // With a rate of 1e30 the first update already ruins the weights: the second step's loss is NaN.
    expect(nanStep).toBe(2);
    expect(r.stderr).toMatch(/^error: the loss became NaN at step 2 with learning rate 9\.\d+e\+29 and temperature 0\.2: the learning rate is likely too high — lower --lr \(the default here is 9\.37e-4\)\. Nothing was saved\.$/m);
    // The step that diverged is printed although --log-every 5 would skip it, and training stops there.
    expect(stepLines(r.stdout)).toEqual([2]);
    expectNoStack(r.stderr);
  }, 120_000);

  it('flags a loss far above ln(K+1) (a temperature of 1e-6) as a warning, once, with a count at the end', async () => {
    const r = await train(['--preset', 'tiny', '--batch', '8', '--train-size', '64', '--queue', '64', '--steps', '3', '--temperature', '1e-6']);
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: the loss is'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: the loss is [\d.]+ at step \d with learning rate .* and temperature 1\.00e-6, far above ln\(K\+1\) = 4\.17 \(a guess among 65 keys\): the temperature is too small .* raise --temperature/);
    const loss = Number(/the loss is ([\d.]+)/.exec(warnings[0])![1]);
    expect(loss).toBeGreaterThan(3 * Math.log(65));
    expect(r.stderr).toMatch(/^warning: the loss was far above ln\(K\+1\) at [23] of 3 steps$/m);
  }, 120_000);
});

describe('output paths and options are checked before training', () => {
  it('refuses --save on an existing file, under a file, and --log-json on a folder, with exit 2 and no step run', async () => {
    const dir = scratch('save-');
    const file = join(dir, 'weights.txt');
    writeFileSync(file, 'keep me');
    const onFile = await train(['--preset', 'tiny', '--steps', '1', '--save', file]);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toBe(`error: ${file}: is a file, but --save needs a folder (it writes model.json and weights.bin into it): give a new or existing folder\n`);
    expect(onFile.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('keep me');

    const underFile = await train(['--preset', 'tiny', '--steps', '1', '--save', join(file, 'out')]);
    expect(underFile.code).toBe(2);
    expect(underFile.stderr).toMatch(/^error: .*weights\.txt\/out: a part of the path is a file, not a folder — --save cannot write there; give another folder$/m);

    const logOnDir = await train(['--preset', 'tiny', '--steps', '1', '--log-json', dir]);
    expect(logOnDir.code).toBe(2);
    expect(logOnDir.stderr).toBe(`error: ${dir}: is a folder where a file was expected — --log-json writes one file: give a file name, e.g. ${join(dir, 'run.jsonl')}\n`);

    // --checkpoint on a folder: refused before the first step, not after the last one.
    const checkpointOnDir = await train(['--preset', 'tiny', '--steps', '1', '--checkpoint', dir]);
    expect(checkpointOnDir.code).toBe(2);
    expect(checkpointOnDir.stderr).toBe(`error: ${dir}: is a folder, but --checkpoint writes the checkpoint as one file: give a file name, e.g. ${join(dir, 'run.zip')}\n`);
    expect(checkpointOnDir.stdout).not.toMatch(/trained|first step/);
    for (const r of [onFile, underFile, logOnDir, checkpointOnDir]) expectNoStack(r.stderr);
  }, 120_000);

  it('refuses --queue over 65,536 as a usage error', async () => {
    const r = await train(['--queue', '1000000000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --queue must be at most 65,536, got '1000000000'/);
    expectNoStack(r.stderr);
  }, 60_000);
});

describe('unreadable and unusual inputs', () => {
  it('names an unreadable file and an unreadable class folder (EACCES), without a stack trace', async () => {
    // As root, chmod 000 does not stop reads: the trainer then runs as nobody (setpriv), for whom it does.
    const dir = scratch('eacces-');
    const locked = join(dir, 'locked.bin');
    writeFileSync(locked, readFileSync(TEST_1K).subarray(0, 3073 * 16));
    chmodSync(locked, 0o000);
    const photos = join(dir, 'photos');
    for (const cls of ['cats', 'dogs']) {
      mkdirSync(join(photos, cls), { recursive: true });
      writeFileSync(join(photos, cls, '1.png'), png(cls === 'cats' ? 10 : 200));
    }
    chmodSync(photos, 0o755);
    for (const cls of ['cats', 'dogs']) chmodSync(join(photos, cls), 0o755);
    chmodSync(join(photos, 'dogs'), 0o000);

    const file = await train(['--preset', 'tiny', '--steps', '1', '--data', locked], IS_ROOT);
    expect(file.code).toBe(1);
    expect(file.stderr).toBe(`error: ${locked}: permission denied: it cannot be read by this user (check its permissions, e.g. chmod a+r, or a+rx for a folder)\n`);
    const folder = await train(['--preset', 'tiny', '--steps', '1', '--data', photos], IS_ROOT);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/^error: .*photos\/dogs: permission denied: it cannot be read by this user/);
    for (const r of [file, folder]) expectNoStack(r.stderr);
  }, 120_000);

  it('names a pipe given as data instead of waiting on it forever', async () => {
    const fifo = join(scratch('fifo-'), 'data.bin');
    execFileSync('mkfifo', [fifo]);
    await expectDatasetErrorAsync(() => loadDataPath(fifo, { labels: 'fine', split: 'train' }), /data\.bin: is neither a file nor a folder \(a pipe, a device or a socket cannot be read as data\)/);
  });

  it('reads links to images, and reports links to folders, broken links, empty class folders and pipes', async () => {
    const outside = scratch('outside-');
    writeFileSync(join(outside, 'far.png'), png(99));
    mkdirSync(join(outside, 'birds'));
    writeFileSync(join(outside, 'birds', '1.png'), png(50));
    const dir = join(scratch('links-'), 'photos');
    for (const cls of ['cats', 'dogs', 'empty']) mkdirSync(join(dir, cls), { recursive: true });
    writeFileSync(join(dir, 'cats', '1.png'), png(10));
    symlinkSync(join(outside, 'far.png'), join(dir, 'cats', '2.png'));
    writeFileSync(join(dir, 'dogs', '1.png'), png(200));
    symlinkSync(join(outside, 'birds'), join(dir, 'birds'));
    symlinkSync(join(outside, 'gone.png'), join(dir, 'dogs', 'gone.png'));
    writeFileSync(join(dir, 'empty', '.DS_Store'), 'x');
    execFileSync('mkfifo', [join(dir, 'dogs', 'pipe.png')]);

    const ds = await readImageFolder(dir);
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect(ds.size).toBe(3); // the linked image counts
    expect(ds.warnings).toEqual([
      'photos: class folder without images left out: empty',
      'photos: skipped birds (a symbolic link to a folder: links to folders are not followed; copy the folder or link its files), ' +
        'dogs/gone.png (a broken symbolic link), dogs/pipe.png (not a regular file)',
    ]);
  });

  it('warns about a single class, and says what was skipped when nothing is left', async () => {
    const dir = join(scratch('single-'), 'photos');
    mkdirSync(join(dir, 'cats'), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, 'cats', `${i}.png`), png(i * 40));
    expect((await readImageFolder(dir)).warnings).toEqual(['photos: one class only (cats): MoCo trains without labels, but kNN and probe accuracy need two classes or more']);

    const links = join(scratch('only-links-'), 'linked');
    mkdirSync(links);
    symlinkSync(dir, join(links, 'cats'));
    await expectDatasetErrorAsync(() => readImageFolder(links), /^linked: has no images \(skipped: cats \(a symbolic link to a folder/);
  });

  it('prints the warnings and trains', async () => {
    const dir = join(scratch('warn-'), 'photos');
    for (const cls of ['cats', 'empty']) mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(dir, 'cats', `${i}.png`), png(i * 30));
    const r = await train(['--preset', 'tiny', '--batch', '4', '--steps', '1', '--data', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: photos: class folder without images left out: empty\n');
    expect(r.stderr).toContain('warning: photos: one class only (cats)');
    expect(stepLines(r.stdout)).toEqual([1]);
  }, 120_000);

  it('warns about CIFAR data of a single label as about a folder of one class, and trains', async () => {
    const file = join(scratch('one-label-'), 'data_batch_1.bin');
    writeFileSync(file, cifarBytes(Array.from({ length: 8 }, () => [3])));
    const r = await train(['--preset', 'tiny', '--batch', '4', '--steps', '1', '--data', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: data_batch_1.bin: one class only (cat): MoCo trains without labels, but kNN and probe accuracy need two classes or more\n');
    expect(stepLines(r.stdout)).toEqual([1]);
    // Two labels: no warning.
    writeFileSync(file, cifarBytes(Array.from({ length: 8 }, (_, i) => [3 + (i % 2)])));
    expect((await train(['--preset', 'tiny', '--batch', '4', '--steps', '1', '--data', file])).stderr).not.toContain('one class only');
  }, 180_000);
});
