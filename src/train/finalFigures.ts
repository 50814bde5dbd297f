/**
 * A run's final loss and contrastive accuracy, as a sweep's or an experiment's table shows them:
 * means over the last tenth of its steps, less noisy than the last step's figures.
 */

/** What a step reports that the final figures average. */
export interface StepFigures {
  loss: number;
  contrastiveAccuracy: number;
}

export interface FinalFigures {
  finalLoss: number;
  finalContrastiveAccuracy: number;
}

/** How many of a run's last steps its final figures average: a tenth of its `steps`, rounded up (at least one). */
export function tailLength(steps: number): number {
  return Math.max(1, Math.ceil(steps / 10));
}

/**
 * Means over the last tenth of a run of `steps` steps. `records` are the run's steps in order, or
 * only its last ones (a loop that keeps those within tailLength(steps) of the end); NaN without any.
 */
export function finalFigures(records: readonly StepFigures[], steps = records.length): FinalFigures {
  const tail = records.slice(-tailLength(steps));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { finalLoss: mean(tail.map((r) => r.loss)), finalContrastiveAccuracy: mean(tail.map((r) => r.contrastiveAccuracy)) };
}
