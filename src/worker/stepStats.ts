/** A step's statistics as the page charts them: one record per step, sent as columns. */
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
