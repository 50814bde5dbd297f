import type { TrainingSetup } from '../../src/worker/types';

/** The tiny model on a few built-in images: what the Worker's service tests train, on the CPU backend. */
export const TINY_SETUP: TrainingSetup = {
  version: 'v2',
  preset: 'tiny',
  batchSize: 8,
  dataset: 'synthetic',
  datasetSize: 64,
  stepBudget: 0,
  seed: 3,
  params: { momentum: 0.99, queueSize: 32, temperature: 0.2, learningRate: 0.03 },
};
