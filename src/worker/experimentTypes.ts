/**
 * Experiments (the MoCo paper's ablations in the app): what the page asks for, what the Worker
 * reports, what the paper measured, and how long runs must be to differ. Types, plain constants and
 * plain functions only, as ./types: the page imports this without pulling tfjs in.
 */
import type { LiveParams } from '../moco/config';
import type { StatField, TrainingSetup } from './types';

/** What an experiment varies: a live parameter, the batch size, or the method. */
export type ExperimentParam = 'momentum' | 'queueSize' | 'temperature' | 'batchSize' | 'version';

export const EXPERIMENT_PARAMS: Record<ExperimentParam, { label: string; symbol: string }> = {
  momentum: { label: 'Momentum m', symbol: 'm' },
  queueSize: { label: 'Queue size K', symbol: 'K' },
  temperature: { label: 'Temperature T', symbol: 'T' },
  batchSize: { label: 'Batch size', symbol: 'batch' },
  version: { label: 'Method (MoCo v1 / v2)', symbol: 'MoCo' },
};

/** The paper's two central ablations (He et al. 2020, §4.1). */
export const EXPERIMENT_PRESETS: { name: string; param: ExperimentParam; values: (number | string)[] }[] = [
  { name: 'momentum: 0, 0.9, 0.99, 0.999', param: 'momentum', values: [0, 0.9, 0.99, 0.999] },
  { name: 'queue: 256, 1024, 4096, 16384', param: 'queueSize', values: [256, 1024, 4096, 16384] },
];

/**
 * The first step at which runs of `values` of `param` can differ in loss and contrastive accuracy
 * (and after which their models differ), from the order of a MoCo step (keys from the key encoder,
 * the loss against the queue, enqueue, SGD on the query encoder, then θk ← m·θk + (1 − m)·θq):
 * - step 1 reads an empty queue: the positive is the only candidate, so every run's loss is 0, its
 *   accuracy 100 % and its gradient nil (SGD applies only weight decay, the same shrinking for all);
 * - temperature, batch size, method: from step 2, the first with negatives;
 * - momentum m: the key encoder starts as the query encoder's copy, and stays it (but for that
 *   shrinking) until the query encoder first learns, at step 2; step 3's keys are the first from a
 *   key encoder that m has moved;
 * - queue size K: step s reads min(K, (s − 1) · batch) keys, the same ones in every run until the
 *   smallest queue is full and overwrites its oldest: ⌊min K / batch⌋ + 2 (the app's loss is not
 *   symmetric: `batch` keys a step).
 * 1 where the values are all alike (no two runs to tell apart).
 */
export function firstDifferingStep(param: ExperimentParam, values: readonly (number | string)[], base: Pick<TrainingSetup, 'batchSize'>): number {
  if (new Set(values).size < 2) return 1;
  if (param === 'momentum') return 3;
  if (param === 'queueSize') return Math.floor(Math.min(...values.map(Number)) / base.batchSize) + 2;
  return 2;
}

export interface ExperimentSpec {
  /** The user's setup and live parameters: every run starts from these (same data, seed and length). */
  base: TrainingSetup;
  param: ExperimentParam;
  /** Numbers, or 'v1' / 'v2' for the method. */
  values: (number | string)[];
  /** Steps per run (the step budget of each run: MoCo v2's cosine rate reaches 0 there). */
  steps: number;
  /** A kNN evaluation of the held-out images at the end of each run. */
  knn: boolean;
}

/** A run's curves: its setup and every step's statistics (as the charts read them), and its kNN results. */
export interface RunCurves {
  setup: TrainingSetup;
  count: number;
  columns: Record<StatField, Float64Array>;
  knn: { step: number; accuracy: number }[];
  /** The run's parameter changes (the charts' markers); none where the run changed none, or was saved before they were kept. */
  changes?: { fromStep: number; params: Partial<LiveParams> }[];
}

/** One row of an experiment's table. */
export interface ExperimentRunResult {
  value: number | string;
  /** "m = 0.9" */
  label: string;
  /** The training images of the run's dataset (its model's; the experiment's setup may name other data than the run in use); null when its model was not built. */
  trainingImages: number | null;
  /** Null when the run failed (`error` says why) or was cancelled before its first step. */
  summary: {
    steps: number;
    /**
     * Means over the last tenth of the steps (at least one), as `--sweep`'s table (finalFigures): the
     * loss, the loss over its chance level ln(n + 1), the contrastive accuracy, the key encoder's
     * lag and its key consistency (NaN where not measured).
     */
    finalLoss: number;
    finalLossRatio: number;
    finalContrastiveAccuracy: number;
    finalKeyLag: number;
    finalKeyConsistency: number;
    /** kNN accuracy at the end (0..1), null when not evaluated. */
    knn: number | null;
    /** Seconds of training steps, the final kNN excluded. */
    seconds: number;
  } | null;
  error: string | null;
  curves: RunCurves;
}

export interface ExperimentProgress {
  /** 0-based index of the run in progress. */
  run: number;
  runs: number;
  label: string;
  step: number;
  steps: number;
  phase: 'saving' | 'training' | 'knn' | 'restoring';
  /** Estimated milliseconds until the whole experiment ends (null until a step has been timed). */
  remainingMs: number | null;
  /** The runs finished so far; sent at each run's start and end only (absent: unchanged). */
  finished?: ExperimentRunResult[];
}

export interface ExperimentResult {
  spec: ExperimentSpec;
  runs: ExperimentRunResult[];
  cancelled: boolean;
  /** What became of the user's run: put back as it was (at its step), or rebuilt fresh when it had no step. */
  restoredStep: number;
  /** The user's run was not in memory when set aside (a rebuild had failed): it is put back so, and this says why and the ways back (the status's words); null otherwise. */
  restoredLost: string | null;
}

/**
 * What the MoCo paper reports for a parameter (He et al., CVPR 2020, §4.1: ResNet-50 on ImageNet,
 * linear-classification top-1, K = 4096 for the momentum ablation). Only figures the paper gives.
 */
export const PAPER_FIGURES: Partial<Record<ExperimentParam, { note: string; rows: { value: string; result: string }[] }>> = {
  momentum: {
    note: 'He et al. 2020 (MoCo), §4.1: ResNet-50 on ImageNet, linear top-1 accuracy, K = 4096. ImageNet/ResNet-50 numbers, for the trend only: a few steps of a tiny network in a tab will not reach them.',
    rows: [
      { value: '0', result: 'fails (training loss oscillates)' },
      { value: '0.9', result: '55.2%' },
      { value: '0.99', result: '57.8%' },
      { value: '0.999', result: '59.0%' },
      { value: '0.9999', result: '58.9%' },
    ],
  },
  queueSize: {
    note: 'He et al. 2020 (MoCo), Figure 3: ResNet-50 on ImageNet, linear top-1 accuracy rises with the number of negatives K (4,096 to 65,536 for MoCo). ImageNet/ResNet-50, for the trend only.',
    rows: [{ value: 'larger K', result: 'higher accuracy (Figure 3)' }],
  },
};
