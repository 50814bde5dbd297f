/**
 * Per-step statistics of a training run, one column each: what the Worker streams to the charts
 * (`StatsBatch`, src/worker/types.ts) and what a classroom recording keeps (./recording.ts), so a
 * replay feeds the same charts. Plain constants: the page imports this without pulling tfjs in.
 */
export const STAT_FIELDS = [
  'step',
  'epoch',
  'imagesSeen',
  'loss',
  'contrastiveAccuracy',
  'meanPositiveSimilarity',
  'meanNegativeSimilarity',
  /** Negatives this step compared against: the keys in the queue before it. */
  'negatives',
  'queueFilled',
  'queueCapacity',
  'meanKeyAge',
  'learningRate',
  'momentum',
  'temperature',
  /** ‖θk − θq‖ / ‖θq‖ after the step's momentum update. */
  'keyLag',
  /** Mean cosine of the two encoders' embeddings of the probe images (the last probe's). */
  'keyConsistency',
  'stepMs',
  'imagesPerSecond',
  'liveTensors',
  /** The run's time after the step (evaluations included): what a replay's pace follows. */
  'elapsedMs',
] as const;

export type StatField = (typeof STAT_FIELDS)[number];
export type StepRecord = Record<StatField, number>;
