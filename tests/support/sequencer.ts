import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { TestSequencer, TestSpecification, Vitest } from 'vitest/node';

/**
 * Files that failed on their last run first, then the longest files first, from a committed table
 * of their last measured durations (tests/durations.json; `node scripts/test-durations.mjs`
 * rewrites it from vitest's cache after a full run). Why the table: vitest orders files by the
 * durations in its cache, and a clean clone (CI) has none, so it fell back to file size and a
 * 10-minute file could start last, alone on one worker while the other sat idle. Handing out the
 * longest files first (greedy longest-processing-time) lets the two workers finish within about one
 * short file of each other. Files missing from the table (new ones) go first, as vitest's own
 * default does with files it has not timed: one of them may be long. Ties keep the path order, so
 * the schedule is the same on every machine with the same cache.
 *
 * Failed first, as vitest's default sequencer does (its BaseSequencer reads the flag from the same
 * cache, `ctx.cache.getFileTestResults`): a fix is confirmed, or the failure seen again, in the
 * first minutes of a rerun. A clean clone has no cache, so CI's order is the table's alone.
 *
 * Only types come from vitest here: vite.config.ts imports this for `vite build` and `vite` too.
 */
export function readDurations(): Record<string, number> {
  return (JSON.parse(readFileSync(new URL('../durations.json', import.meta.url), 'utf8')) as { seconds: Record<string, number> }).seconds;
}

export class LongestFirstSequencer implements TestSequencer {
  constructor(private readonly ctx: Vitest) {}

  sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const failed = new Set(files.filter((spec) => this.failedLastRun(spec)));
    return Promise.resolve(this.longestFirst(files).sort((a, b) => Number(failed.has(b)) - Number(failed.has(a))));
  }

  /**
   * `--shard i/n`: every n-th file of the longest-first order, so each shard gets its share of the
   * long ones. Not by what failed: each shard's machine has its own cache, and all must split alike.
   */
  shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { index, count } = this.ctx.config.shard!;
    return Promise.resolve(this.longestFirst(files).filter((_, i) => i % count === index - 1));
  }

  private longestFirst(files: TestSpecification[]): TestSpecification[] {
    const seconds = readDurations();
    const keyed = files.map((spec) => {
      const path = relative(this.ctx.config.root, spec.moduleId).replaceAll('\\', '/');
      return { spec, path, seconds: seconds[path] ?? Number.POSITIVE_INFINITY };
    });
    keyed.sort((a, b) => b.seconds - a.seconds || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return keyed.map((k) => k.spec);
  }

  /** Whether the file failed the last time it ran, keyed as vitest's results cache keys it (`project:relative path`). */
  private failedLastRun(spec: TestSpecification): boolean {
    return this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`)?.failed === true;
  }
}
