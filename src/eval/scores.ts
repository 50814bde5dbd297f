/** How well predictions match labels, overall and class by class. */
export interface ClassificationScore {
  /** Fraction correct, 0..1. */
  accuracy: number;
  correct: number;
  total: number;
  /** Per class, in class order; accuracy is NaN for a class with no examples. */
  perClass: { correct: number; total: number; accuracy: number }[];
}

export function scorePredictions(predictions: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): ClassificationScore {
  if (predictions.length !== labels.length) throw new Error(`${predictions.length} predictions for ${labels.length} labels`);
  const correct = new Array<number>(numClasses).fill(0);
  const total = new Array<number>(numClasses).fill(0);
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    total[labels[i]]++;
    if (predictions[i] === labels[i]) {
      correct[labels[i]]++;
      right++;
    }
  }
  return {
    accuracy: labels.length > 0 ? right / labels.length : NaN,
    correct: right,
    total: labels.length,
    perClass: correct.map((c, k) => ({ correct: c, total: total[k], accuracy: total[k] > 0 ? c / total[k] : NaN })),
  };
}
