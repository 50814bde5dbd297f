/** A step's statistics as the page charts them: one record per step, sent as columns. */
import type { ChartPoint } from '../train/checkpoint';
import type { TrainStepStats } from '../train/trainer';
import { STAT_FIELDS, type StatField, type StepRecord } from './types';

/** The record of one step; `negatives` is the queue's fill before the step, `elapsedMs` the run's training time after it. */
export function stepRecord(stats: TrainStepStats, negatives: number, elapsedMs: number): StepRecord {
  const all: StepRecord = { ...stats, negatives, elapsedMs };
  return Object.fromEntries(STAT_FIELDS.map((field) => [field, all[field]])) as StepRecord;
}

/** Records as one typed column per field: a few buffers to transfer instead of many small objects. */
export function statColumns(records: readonly StepRecord[]): Record<StatField, Float64Array> {
  return Object.fromEntries(STAT_FIELDS.map((field) => [field, Float64Array.from(records, (r) => r[field])])) as Record<StatField, Float64Array>;
}

/** What a checkpoint keeps of a step's record for the charts. */
export function chartPointOf(r: StepRecord): ChartPoint {
  const { step, loss, contrastiveAccuracy, meanPositiveSimilarity, meanNegativeSimilarity, queueFilled, queueCapacity, meanKeyAge, learningRate, momentum, temperature, keyLag, keyConsistency, imagesPerSecond } = r;
  return { step, loss, contrastiveAccuracy, meanPositiveSimilarity, meanNegativeSimilarity, queueFilled, queueCapacity, meanKeyAge, learningRate, momentum, temperature, keyLag, keyConsistency, imagesPerSecond };
}

/**
 * A kept chart point as a record again, for the charts of a resumed run: the epoch and the images
 * seen follow from the step; the negatives from the queue's fill; what a checkpoint does not keep (step time, tensors, elapsed
 * time) is NaN.
 */
export function recordOfChartPoint(p: ChartPoint, batchSize: number, batchesPerEpoch: number): StepRecord {
  const all: StepRecord = {
    ...p,
    // Absent from checkpoints written before they were measured; NaN (not measured) is saved as null.
    keyLag: p.keyLag ?? Number.NaN,
    keyConsistency: p.keyConsistency ?? Number.NaN,
    epoch: p.step / batchesPerEpoch,
    imagesSeen: p.step * batchSize,
    // Not kept: the queue's fill before the step, one batch less than after it until the queue is full.
    negatives: p.queueFilled === p.queueCapacity ? p.queueCapacity : Math.max(0, p.queueFilled - batchSize),
    stepMs: Number.NaN,
    liveTensors: Number.NaN,
    elapsedMs: Number.NaN,
  };
  return Object.fromEntries(STAT_FIELDS.map((field) => [field, all[field]])) as StepRecord;
}

/** Chart points of one run, thinned by half whenever `max` is reached, so that a long run's history stays small. */
export class ChartHistory {
  private points: ChartPoint[] = [];

  constructor(private readonly max = 10_000) {}

  push(p: ChartPoint): void {
    if (this.points.length >= this.max) this.points = this.points.filter((_, i) => i % 2 === 1);
    this.points.push(p);
  }

  reset(points: readonly ChartPoint[] = []): void {
    this.points = points.slice(-this.max);
  }

  all(): ChartPoint[] {
    return [...this.points];
  }
}
