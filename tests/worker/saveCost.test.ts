/**
 * An automatic save must not stall training: the part of a save that training waits for (encoding
 * the checkpoint under the service's lock, between two steps) is measured in the Worker and
 * reported with the save; writing to storage runs while training goes on.
 */
import { describe, expect, it } from 'vitest';
import { TrainingService } from '../../src/worker/training';
import type { StatsBatch } from '../../src/worker/types';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('TrainingService automatic saves while training', () => {
  it('a save holds training for a small fraction of a step, and its write does not hold it at all', async () => {
    const batches: StatsBatch[] = [];
    const s = new TrainingService();
    await s.init((b) => batches.push(b), { backends: ['cpu'], autosaveEveryMs: 0 });
    // A write slower than a step: if training waited for it, the steps would show it.
    const store = new MemoryRunStore(400);
    s.useRunStore(store);
    await s.configure({ ...TINY_SETUP, stepBudget: 10 });
    await s.start();
    for (let i = 0; i < 3000 && s.status().state === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 200 && s.status().save?.step !== 10; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.status()).toMatchObject({ state: 'finished', step: 10, save: { step: 10, error: null } });

    const saves = new Map<number, { blockedMs: number; writeMs: number }>();
    for (const b of batches) {
      const save = b.status.save;
      if (save?.blockedMs !== undefined && save.writeMs !== undefined) saves.set(save.step, { blockedMs: save.blockedMs, writeMs: save.writeMs });
    }
    const steps = batches.flatMap((b) => Array.from(b.columns.step));
    const stepMs = batches.flatMap((b) => Array.from(b.columns.stepMs));
    const elapsed = batches.flatMap((b) => Array.from(b.columns.elapsedMs));
    // Between one step's end and the next's, the time that was not that next step's own work: saves
    // included (the first two steps compile, left out). Each step against its own time, so that a
    // loaded machine's slow and fast steps do not count as waiting.
    const gaps = elapsed.slice(2).map((e, i) => e - elapsed[i + 1] - stepMs[i + 2]);
    const blocked = [...saves.values()].map((x) => x.blockedMs);
    console.log(
      `saves after steps ${[...saves.keys()].join(', ')}: held training ${blocked.map((x) => x.toFixed(1)).join(', ')} ms, ` +
        `wrote ${[...saves.values()].map((x) => x.writeMs.toFixed(0)).join(', ')} ms; step ${median(stepMs.slice(1)).toFixed(1)} ms (median), between steps ${median(gaps).toFixed(1)} ms (median)`,
    );
    expect(steps).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    // One save per 400 ms write at most: several during the run, the last at its end.
    expect(saves.size).toBeGreaterThanOrEqual(3);
    // The write (400 ms here) is not waited for: the time between steps stays well under it.
    expect(median(gaps)).toBeLessThan(0.5 * 400);
    // The part training waits for: under a quarter of a step for the median save.
    expect(median(blocked)).toBeLessThan(0.25 * median(stepMs.slice(1)));
    s.dispose();
  }, 120_000);
});
