/**
 * A run's final figures, as a sweep's or an experiment's table shows them: means over the last
 * tenth of its steps, less noisy than the last step's figures.
 */

/** What a step reports that the final figures average. */
export interface StepFigures {
  loss: number;
  contrastiveAccuracy: number;
  /** The keys of the queue the step's loss read (the queue's fill before the step): its chance level is ln(negatives + 1). */
  negatives: number;
  /** ‖θk − θq‖ / ‖θq‖ after the step's momentum update; NaN where not measured. */
  keyLag: number;
  /** The latest key-consistency probe's mean cosine (probed every few steps); NaN where not measured. */
  keyConsistency: number;
}

export interface FinalFigures {
  finalLoss: number;
  finalContrastiveAccuracy: number;
  /**
   * The loss over its chance level, loss ÷ ln(n + 1) with n the keys each step read: 1 for
   * embeddings that carry no information, at any queue size, so that runs of different K (whose
   * chance levels differ: ln 257 = 5.55, ln 16,385 = 9.70) compare. NaN where no step had negatives.
   */
  finalLossRatio: number;
  /** How far the key encoder trails the query encoder (0 with m = 0); NaN where not measured. */
  finalKeyLag: number;
  /** The mean cosine of the two encoders' embeddings of fixed probe images (1 with m = 0); NaN where not measured. */
  finalKeyConsistency: number;
}

/** How many of a run's last steps its final figures average: a tenth of its `steps`, rounded up (at least one). */
export function tailLength(steps: number): number {
  return Math.max(1, Math.ceil(steps / 10));
}

/** The chance level of a step's loss: embeddings that carry no information score the positive like the `negatives` keys. */
export function chanceLoss(negatives: number): number {
  return Math.log(negatives + 1);
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The mean of the measured values (a step without a measurement is NaN); NaN where none was measured. */
const measuredMean = (xs: readonly number[]) => mean(xs.filter(Number.isFinite));

/**
 * Means over the last tenth of a run of `steps` steps. `records` are the run's steps in order, or
 * only its last ones (a loop that keeps those within tailLength(steps) of the end); NaN without any.
 * The loss and accuracy average every step (a diverged step makes them NaN, as it should); the loss
 * ratio the steps with negatives (the first step reads an empty queue), the lag and consistency
 * the steps that measured them.
 */
export function finalFigures(records: readonly StepFigures[], steps = records.length): FinalFigures {
  const tail = records.slice(-tailLength(steps));
  return {
    finalLoss: mean(tail.map((r) => r.loss)),
    finalContrastiveAccuracy: mean(tail.map((r) => r.contrastiveAccuracy)),
    finalLossRatio: mean(tail.filter((r) => r.negatives > 0).map((r) => r.loss / chanceLoss(r.negatives))),
    finalKeyLag: measuredMean(tail.map((r) => r.keyLag)),
    finalKeyConsistency: measuredMean(tail.map((r) => r.keyConsistency)),
  };
}
