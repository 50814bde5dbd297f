import { describe, expect, it } from 'vitest';
import { labelsByDifference, tellApart } from '../../src/worker/runLabels';
import type { TrainingSetup } from '../../src/worker/types';
import { TINY_SETUP } from './setup';

const withParams = (p: Partial<TrainingSetup['params']>, s: Partial<TrainingSetup> = {}): TrainingSetup => ({ ...TINY_SETUP, ...s, params: { ...TINY_SETUP.params, ...p } });

describe('runs named by what differs between them', () => {
  it('names runs that differ in m only by m', () => {
    expect(labelsByDifference([withParams({ momentum: 0.9 }), withParams({ momentum: 0.99 }), withParams({ momentum: 0.999 })])).toEqual(['m = 0.9', 'm = 0.99', 'm = 0.999']);
  });

  it('lists every aspect that differs, in a fixed order, and only those', () => {
    const labels = labelsByDifference([withParams({ queueSize: 256 }, { version: 'v1' }), withParams({ queueSize: 16384 }, { version: 'v2' }), withParams({ queueSize: 256 }, { version: 'v2' })]);
    expect(labels).toEqual(['MoCo v1, K = 256', 'MoCo v2, K = 16384', 'MoCo v2, K = 256']);
  });

  it('shows the learning rate and temperature to four digits, and the batch size and dataset when they differ', () => {
    expect(labelsByDifference([withParams({ learningRate: 0.000937 }), withParams({ learningRate: 0.03 })])).toEqual(['lr = 0.000937', 'lr = 0.03']);
    expect(labelsByDifference([withParams({}, { batchSize: 8 }), withParams({}, { batchSize: 16, dataset: 'sample' })])).toEqual(['batch = 8, shapes (64)', 'batch = 16, CIFAR-10 sample']);
  });

  it('falls back to the given names when nothing differs (or there is one run)', () => {
    expect(labelsByDifference([TINY_SETUP, withParams({})], (i) => `#${i}`)).toEqual(['#0', '#1']);
    expect(labelsByDifference([TINY_SETUP])).toEqual(['run 1']);
  });
});

describe('what a label leaves out', () => {
  it('does not name the step budget (an experiment run of 100 steps beside an open-ended run is still "m = 0.9")', () => {
    expect(labelsByDifference([withParams({ momentum: 0.99 }), withParams({ momentum: 0.9 }, { stepBudget: 100 })])).toEqual(['m = 0.99', 'm = 0.9']);
  });
});

describe('runs shown together with the same label', () => {
  it('tells two saved runs and an experiment of the same two m apart by where each comes from, and leaves unique labels alone', () => {
    // Saved runs at m = 0.9 (step 2) and m = 0.99 (step 3) ticked, then an experiment over m = 0.9, 0.99: four lines, two labels.
    const setups = [withParams({ momentum: 0.9 }), withParams({ momentum: 0.99 }), withParams({ momentum: 0.9 }, { stepBudget: 2 }), withParams({ momentum: 0.99 }, { stepBudget: 2 })];
    const origins = ['saved, step 2', 'saved, step 3', 'experiment', 'experiment'];
    expect(tellApart(labelsByDifference(setups), (i) => origins[i])).toEqual(['m = 0.9 (saved, step 2)', 'm = 0.99 (saved, step 3)', 'm = 0.9 (experiment)', 'm = 0.99 (experiment)']);
    expect(tellApart(['m = 0.9', 'm = 0.99', 'm = 0.9'], (i) => origins[i])).toEqual(['m = 0.9 (saved, step 2)', 'm = 0.99', 'm = 0.9 (experiment)']);
  });
});
