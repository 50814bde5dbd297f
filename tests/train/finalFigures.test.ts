import { describe, expect, it } from 'vitest';
import { finalFigures, tailLength } from '../../src/train/finalFigures';

/** Step i (1-based) of a run: loss 10·i, accuracy i / 100, so a mean names the steps it took. */
const run = (steps: number) => Array.from({ length: steps }, (_, i) => ({ loss: 10 * (i + 1), contrastiveAccuracy: (i + 1) / 100 }));

describe('final figures: means over the last tenth of a run', () => {
  it('averages a tenth of the steps, rounded up, and at least the last step', () => {
    expect([1, 5, 10, 11, 14, 15, 20, 95, 100, 101].map(tailLength)).toEqual([1, 1, 1, 2, 2, 2, 2, 10, 10, 11]);
    expect(tailLength(0)).toBe(1);
    // 14 steps: the last two (13 and 14); 100 steps: 91–100.
    expect(finalFigures(run(14))).toEqual({ finalLoss: 135, finalContrastiveAccuracy: 0.135 });
    expect(finalFigures(run(100)).finalLoss).toBe(955);
    expect(finalFigures(run(100)).finalContrastiveAccuracy).toBeCloseTo(0.955, 12);
    expect(finalFigures(run(3))).toEqual({ finalLoss: 30, finalContrastiveAccuracy: 0.03 });
  });

  it('gives the same figures from only the last steps of the run, as the headless loop keeps them', () => {
    const all = run(25);
    const kept = all.slice(25 - tailLength(25));
    expect(kept).toHaveLength(3);
    expect(finalFigures(kept, 25)).toEqual(finalFigures(all));
    // A run resumed at step 24 of 25 kept only its last step.
    expect(finalFigures(all.slice(24), 25)).toEqual({ finalLoss: 250, finalContrastiveAccuracy: 0.25 });
  });

  it('is NaN without a step', () => {
    const none = finalFigures([]);
    expect(Number.isNaN(none.finalLoss) && Number.isNaN(none.finalContrastiveAccuracy)).toBe(true);
  });
});
