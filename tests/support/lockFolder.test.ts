import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_STALE_MS, tryLockFolder } from './lockFolder';

describe("the e2e build's lock folder", () => {
  let dir = '';
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const lockIn = async () => join((dir = await mkdtemp(join(tmpdir(), 'lock-'))), 'build.lock');

  it('is taken by one process at a time, and names its owner', async () => {
    const lock = await lockIn();
    expect(await tryLockFolder(lock)).toBe(true);
    expect(await readFile(join(lock, 'pid'), 'utf8')).toBe(String(process.pid));
    // Held by a running process (this one): the next asker waits.
    expect(await tryLockFolder(lock)).toBe(false);
  });

  it('is taken over at once from a run that was killed holding it, not after minutes', async () => {
    const lock = await lockIn();
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    await mkdir(lock);
    await writeFile(join(lock, 'pid'), String(gone));
    expect(await tryLockFolder(lock)).toBe(true);
    expect(await readFile(join(lock, 'pid'), 'utf8')).toBe(String(process.pid));
  });

  it('is left to a new owner still writing its pid, unless it is older than the stale age', async () => {
    const lock = await lockIn();
    await mkdir(lock);
    expect(await tryLockFolder(lock)).toBe(false);
    const then = (Date.now() - LOCK_STALE_MS - 60_000) / 1000;
    await utimes(lock, then, then);
    expect(await tryLockFolder(lock)).toBe(true);
  });
});
