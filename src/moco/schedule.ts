export interface LrSchedule {
  baseLr: number;
  /** Linear warm-up from 0 over these steps. */
  warmupSteps: number;
  /** Cosine decay reaches 0 at this step; 0 or less keeps the base rate after warm-up. */
  totalSteps: number;
  /** MoCo v1 keeps a constant rate (the paper uses step decay late in long runs). */
  cosine: boolean;
}

/** Learning rate at `step` (0-based): linear warm-up, then half a cosine down to 0 at `totalSteps`. */
export function learningRateAt(step: number, s: LrSchedule): number {
  if (step < s.warmupSteps) return (s.baseLr * step) / s.warmupSteps;
  if (!s.cosine || s.totalSteps <= s.warmupSteps) return s.baseLr;
  const progress = Math.min(1, (step - s.warmupSteps) / (s.totalSteps - s.warmupSteps));
  return s.baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
