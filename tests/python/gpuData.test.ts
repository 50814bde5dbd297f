import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED } from '../support/helpers';
import { runPython, torchPython } from '../support/python';

// scripts/gpu-data.py: the CIFAR-10 files a GPU call needs, sent as the app's sample + the rest of
// train_10k.bin (the two whole files no longer fit the call's 64 MiB), rebuilt on the machine.
const SCRIPT = resolve(REPO_ROOT, 'scripts/gpu-data.py');
const CIFAR = resolve(SHARED, 'data/cifar10');

describe('gpu-data.py', () => {
  it('rebuilds train_10k.bin and test_1k.bin byte for byte from the CIFAR-10 sample and what it packs', () => {
    const python = torchPython();
    const packed = mkdtempSync(join(tmpdir(), 'gpu-data-'));
    const rebuilt = mkdtempSync(join(tmpdir(), 'gpu-data-out-'));
    runPython(python, [SCRIPT, 'pack', CIFAR, packed], { cwd: REPO_ROOT, timeoutMs: 240_000, env: { GPU_DATA_XZ_PRESET: '0' } });
    runPython(python, [SCRIPT, 'unpack', packed, rebuilt], { cwd: REPO_ROOT, timeoutMs: 240_000 });
    for (const file of ['train_10k.bin', 'test_1k.bin']) {
      expect(readFileSync(join(rebuilt, file)).equals(readFileSync(join(CIFAR, file))), file).toBe(true);
    }
  }, 300_000);

  it('refuses to pack a train_10k.bin whose first records are not the sample, naming the way out', () => {
    const src = mkdtempSync(join(tmpdir(), 'gpu-data-src-'));
    const train = readFileSync(join(CIFAR, 'train_10k.bin'));
    train[3073 * 42 + 100] ^= 1; // one pixel of image 4 of class 2
    writeFileSync(join(src, 'train_10k.bin'), train);
    symlinkSync(join(CIFAR, 'test_1k.bin'), join(src, 'test_1k.bin'));
    const r = spawnSync(torchPython(), [SCRIPT, 'pack', src, join(src, 'out')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not the first records of');
    expect(r.stderr).toContain('xz the two files whole instead');
  }, 300_000);
});
