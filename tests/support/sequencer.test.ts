import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestSpecification, Vitest } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { LongestFirstSequencer, readDurations } from './sequencer';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The sequencer as vitest builds it, with the results cache a run left (`failed`: the files that
 * failed on their last run, as `node_modules/.vite/vitest/…/results.json` records them).
 */
function sequencer(shard?: { index: number; count: number }, failed: string[] = []): LongestFirstSequencer {
  const results = new Map<string, { failed: boolean; duration: number }>(failed.map((path) => [`:${path}`, { failed: true, duration: 1000 }]));
  const cache = { getFileTestResults: (key: string) => results.get(key) ?? { failed: false, duration: 1000 } };
  return new LongestFirstSequencer({ config: { root: ROOT, shard }, cache } as unknown as Vitest);
}

// The config's one project is unnamed: vitest keys its cache `:tests/….test.ts`.
const spec = (path: string) => ({ moduleId: resolve(ROOT, path), project: { name: '' } }) as TestSpecification;
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

  it('starts the files that failed on their last run first, longest first among them, then the others as before', async () => {
    const byTime = paths(await sequencer().sort(timed.map(spec)));
    // A short and a long file failed last time (vitest's cache says so); a new file has no entry.
    const [short, long] = [byTime.at(-1)!, byTime[2]];
    const files = ['tests/new-one.test.ts', ...timed].reverse().map(spec);
    const order = paths(await sequencer(undefined, [short, long]).sort(files));
    expect(order.slice(0, 3)).toEqual([long, short, 'tests/new-one.test.ts']);
    expect(order.slice(3)).toEqual(byTime.filter((p) => p !== short && p !== long));
    // Without a cache entry saying it failed, a file keeps its place.
    expect(paths(await sequencer(undefined, ['tests/elsewhere.test.ts']).sort(files))).toEqual(['tests/new-one.test.ts', ...byTime]);
  });

  it('splits --shard runs so that each shard gets every n-th of the longest-first order, whatever failed on this machine', async () => {
    const files = timed.map(spec);
    const shards = await Promise.all([1, 2, 3].map(async (index) => paths(await sequencer({ index, count: 3 }).shard(files))));
    expect(shards.flat().sort()).toEqual([...timed].sort());
    const longest = paths(await sequencer().sort(files)).slice(0, 3);
    expect(shards.map((s) => s[0])).toEqual(longest);
    // Another machine's cache, where the shortest file failed, splits the same way.
    const shortest = paths(await sequencer().sort(files)).at(-1)!;
    for (const index of [1, 2, 3]) expect(paths(await sequencer({ index, count: 3 }, [shortest]).shard(files))).toEqual(shards[index - 1]);
  });

  it('times only files that exist (scripts/test-durations.mjs drops the others)', () => {
    expect(timed.filter((p) => !existsSync(resolve(ROOT, p)))).toEqual([]);
    expect(timed.length).toBeGreaterThan(50);
  });
});
