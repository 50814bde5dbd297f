import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeAtomically, type WriteFiles } from '../../src/cli/fileWrites';

afterEach(() => vi.restoreAllMocks());

describe('writeAtomically (checkpoints and recordings)', () => {
  it('a full disk mid-write keeps the previous recording whole, leaves no temporary file and names --record in the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-write-'));
    const path = join(dir, 'class.zip');
    writeFileSync(path, 'the previous recording');
    const files: WriteFiles = {
      rename,
      rm,
      async writeFile(file, bytes) {
        await writeFile(file, bytes.subarray(0, 3));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await writeAtomically(path, new Uint8Array(100).fill(7), 'the recording', '--record', files)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('the previous recording');
    expect(readdirSync(dir)).toEqual(['class.zip']);
    expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([
      `error: could not write the recording ${path} (ENOSPC: no space left on device, write); the previous one, if any, is intact: free space on its disk, or give --record a path on another disk`,
    ]);
  });

  it('writes the new bytes over the old file and says nothing when it can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-write-'));
    const path = join(dir, 'run.zip');
    writeFileSync(path, 'old');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await writeAtomically(path, new TextEncoder().encode('new bytes'), 'the checkpoint', '--checkpoint')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('new bytes');
    expect(readdirSync(dir)).toEqual(['run.zip']);
    expect(errors).not.toHaveBeenCalled();
  });

  it('a folder it may not write is named with the fix for its option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-write-'));
    const files: WriteFiles = {
      rename,
      rm,
      writeFile: () => Promise.reject(Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES' })),
    };
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await writeAtomically(join(dir, 'class.zip'), new Uint8Array(4), 'the recording', '--record', files)).toBe(false);
    expect(String(errors.mock.calls[0][0])).toMatch(/\(EACCES: permission denied, open\); the previous one, if any, is intact: make its folder writable, or give --record a path in a writable folder$/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
