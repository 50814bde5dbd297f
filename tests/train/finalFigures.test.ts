import { describe, expect, it } from 'vitest';
import { chanceLoss, finalFigures, tailLength } from '../../src/train/finalFigures';

/**
 * Step i (1-based) of a run: loss 10·i, accuracy i / 100, lag i / 1000, so a mean names the steps
 * it took; a full queue of 255 keys (chance ln 256), and a consistency probe every 5 steps (the
 * probe's value i / 10 between probes, NaN where the key encoder is not measured).
 */
const run = (steps: number, consistency: (step: number) => number = (i) => i / 10) =>
  Array.from({ length: steps }, (_, k) => {
    const i = k + 1;
    return { loss: 10 * i, contrastiveAccuracy: i / 100, negatives: 255, keyLag: i / 1000, keyConsistency: consistency(i) };
  });

describe('final figures: means over the last tenth of a run', () => {
  it('averages a tenth of the steps, rounded up, and at least the last step', () => {
    expect([1, 5, 10, 11, 14, 15, 20, 95, 100, 101].map(tailLength)).toEqual([1, 1, 1, 2, 2, 2, 2, 10, 10, 11]);
    expect(tailLength(0)).toBe(1);
    // 14 steps: the last two (13 and 14); 100 steps: 91–100.
    expect(finalFigures(run(14))).toMatchObject({ finalLoss: 135, finalContrastiveAccuracy: 0.135, finalKeyLag: 0.0135, finalKeyConsistency: 1.35 });
    expect(finalFigures(run(14)).finalLossRatio).toBeCloseTo(135 / Math.log(256), 12);
    expect(finalFigures(run(100)).finalLoss).toBe(955);
    expect(finalFigures(run(100)).finalContrastiveAccuracy).toBeCloseTo(0.955, 12);
    expect(finalFigures(run(3))).toMatchObject({ finalLoss: 30, finalContrastiveAccuracy: 0.03, finalKeyLag: 0.003 });
  });

  it('gives the same figures from only the last steps of the run, as the headless loop keeps them', () => {
    const all = run(25);
    const kept = all.slice(25 - tailLength(25));
    expect(kept).toHaveLength(3);
    expect(finalFigures(kept, 25)).toEqual(finalFigures(all));
    // A run resumed at step 24 of 25 kept only its last step.
    expect(finalFigures(all.slice(24), 25)).toMatchObject({ finalLoss: 250, finalContrastiveAccuracy: 0.25 });
  });

  it('averages the lag and the consistency over the steps that measured them, NaN where none did', () => {
    // 30 steps, the last three averaged; only step 30 probed the consistency (the others: NaN).
    const probedAt30 = finalFigures(run(30, (i) => (i % 5 === 0 ? 0.98 : Number.NaN)));
    expect(probedAt30.finalKeyConsistency).toBe(0.98);
    expect(probedAt30.finalKeyLag).toBeCloseTo(0.029, 12);
    const unmeasured = finalFigures(run(30).map((r) => ({ ...r, keyLag: Number.NaN, keyConsistency: Number.NaN })));
    expect(Number.isNaN(unmeasured.finalKeyLag) && Number.isNaN(unmeasured.finalKeyConsistency)).toBe(true);
    expect(unmeasured.finalLoss).toBe(290);
  });

  it('gives the loss over its chance level ln(n + 1): 1 at chance whatever the queue size, NaN with no negatives', () => {
    // Two runs at chance, K = 16 and K = 4,096: their raw losses differ by 5.5, their ratios not at all.
    const atChance = (k: number) => ({ loss: chanceLoss(k), contrastiveAccuracy: 1 / (k + 1), negatives: k, keyLag: 0, keyConsistency: 1 });
    const small = finalFigures([atChance(16)]);
    const large = finalFigures([atChance(4096)]);
    expect(large.finalLoss - small.finalLoss).toBeCloseTo(Math.log(4097 / 17), 12);
    expect(small.finalLossRatio).toBeCloseTo(1, 12);
    expect(large.finalLossRatio).toBeCloseTo(1, 12);
    // Each step against its own queue's fill: a queue filling up (8, 16 keys) at half its chance level.
    expect(finalFigures([8, 16].map((n) => ({ ...atChance(n), loss: chanceLoss(n) / 2 })), 20).finalLossRatio).toBeCloseTo(0.5, 12);
    // The first step reads an empty queue: no chance level to compare with.
    expect(Number.isNaN(finalFigures([{ ...atChance(0), loss: 0 }]).finalLossRatio)).toBe(true);
    // A diverged step is not hidden.
    expect(Number.isNaN(finalFigures([{ ...atChance(16), loss: Number.NaN }]).finalLossRatio)).toBe(true);
  });

  it('is NaN without a step', () => {
    const none = finalFigures([]);
    expect(Object.values(none).every(Number.isNaN)).toBe(true);
  });
});
