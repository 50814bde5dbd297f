import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestSpecification, Vitest } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { LongestFirstSequencer, readDurations } from './sequencer';

const ROOT = resolve(import.meta.dirname, '../..');

function sequencer(shard?: { index: number; count: number }): LongestFirstSequencer {
  return new LongestFirstSequencer({ config: { root: ROOT, shard } } as unknown as Vitest);
}

const spec = (path: string) => ({ moduleId: resolve(ROOT, path) }) as TestSpecification;
const paths = (specs: TestSpecification[]) => specs.map((s) => s.moduleId.slice(ROOT.length + 1));

describe('test order: longest files first', () => {
  const table = readDurations();
  const timed = Object.keys(table);

  it('hands out the timed files longest first, files it has not timed before them', async () => {
    const files = ['tests/new-one.test.ts', ...timed].reverse().map(spec);
    const order = paths(await sequencer().sort(files));
    expect(order[0]).toBe('tests/new-one.test.ts');
    const seconds = order.slice(1).map((p) => table[p]);
    expect(seconds).toEqual([...seconds].sort((a, b) => b - a));
    // The slowest file starts at once, not last.
    expect(order[1]).toBe(timed.reduce((a, b) => (table[b] > table[a] ? b : a)));
  });

  it('splits --shard runs so that each shard gets every n-th of the longest-first order', async () => {
    const files = timed.map(spec);
    const shards = await Promise.all([1, 2, 3].map(async (index) => paths(await sequencer({ index, count: 3 }).shard(files))));
    expect(shards.flat().sort()).toEqual([...timed].sort());
    const longest = paths(await sequencer().sort(files)).slice(0, 3);
    expect(shards.map((s) => s[0])).toEqual(longest);
  });

  it('times only files that exist (scripts/test-durations.mjs drops the others)', () => {
    expect(timed.filter((p) => !existsSync(resolve(ROOT, p)))).toEqual([]);
    expect(timed.length).toBeGreaterThan(50);
  });
});
