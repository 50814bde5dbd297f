/**
 * The experiments panel tells a user who picks runs too short for the parameter to act why the
 * rows cannot differ, and how many steps they need (the rule is checked against real MoCo runs in
 * tests/worker/experiment.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { tooShortHint } from '../../src/ui/components/Experiments';
import { firstDifferingStep } from '../../src/worker/experimentTypes';

const BATCH_8 = { batchSize: 8 };

describe('an experiment too short for its parameter to act', () => {
  it('needs 3 steps for m: the key encoder is the query encoder’s copy for the keys of steps 1 and 2', () => {
    expect(firstDifferingStep('momentum', [0, 0.9, 0.99, 0.999], BATCH_8)).toBe(3);
    expect(tooShortHint('momentum', [0, 0.99], 2, BATCH_8)).toMatch(/^With 2 steps per run the loss and accuracy of the runs cannot differ: m acts through the key encoder, .*step 3’s keys are the first .* Give at least 3 steps\.$/);
    expect(tooShortHint('momentum', [0, 0.99], 1, BATCH_8)).toMatch(/^With 1 step per run .* Give at least 3 steps\.$/);
    expect(tooShortHint('momentum', [0, 0.99], 3, BATCH_8)).toBeNull();
  });

  it('needs K for the queue until the smallest queue is full: ⌊min K / batch⌋ + 2', () => {
    expect(firstDifferingStep('queueSize', [32, 16], BATCH_8)).toBe(4);
    expect(firstDifferingStep('queueSize', [256, 1024, 4096, 16384], { batchSize: 256 })).toBe(3);
    expect(firstDifferingStep('queueSize', [256, 1024, 4096, 16384], { batchSize: 16 })).toBe(18);
    // A queue smaller than a batch keeps the newest K of step 1's keys: the runs differ at step 2.
    expect(firstDifferingStep('queueSize', [4, 64], BATCH_8)).toBe(2);
    expect(tooShortHint('queueSize', [16, 32], 3, BATCH_8)).toBe(
      'With 3 steps per run the loss and accuracy of the runs cannot differ: step s reads min(K, (s − 1) × batch 8) keys, the same ones in every run until the smallest queue (K = 16) is full; the runs first differ at step 4. Give at least 4 steps.',
    );
    expect(tooShortHint('queueSize', [16, 32], 4, BATCH_8)).toBeNull();
    expect(tooShortHint('queueSize', [16, 32], 300, BATCH_8)).toBeNull();
  });

  it('needs 2 steps for T, the batch size or the method: step 1’s queue is empty', () => {
    for (const [param, values] of [['temperature', [0.07, 0.2]], ['batchSize', [8, 16]], ['version', ['v1', 'v2']]] as const) {
      expect(firstDifferingStep(param, values, BATCH_8)).toBe(2);
      expect(tooShortHint(param, values, 1, BATCH_8)).toMatch(/^With 1 step per run .*: step 1’s queue is empty, so every run’s loss is 0 and its contrastive accuracy 100 %.* Give at least 2 steps\.$/);
      expect(tooShortHint(param, values, 2, BATCH_8)).toBeNull();
    }
  });

  it('says nothing where there are no two different values to compare', () => {
    expect(tooShortHint('momentum', [0.99], 1, BATCH_8)).toBeNull();
    expect(tooShortHint('momentum', [0.9, 0.9], 1, BATCH_8)).toBeNull();
  });
});
