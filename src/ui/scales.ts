import { MAX_QUEUE_SIZE } from '../moco/config';

/**
 * Slider scales: a range input moves over integer positions, and these map positions to parameter
 * values and back. Integer positions keep keyboard steps (arrows, Page Up/Down) meaningful.
 */
export interface SliderScale {
  /** Positions are 0..steps. */
  readonly steps: number;
  toValue(position: number): number;
  toPosition(value: number): number;
}

export const MOMENTUM_MAX = 0.9999;

/**
 * m = 1 − 10^(−4p) for p in [0, 1]: equal slider travel for each decade of 1 − m, so 0.9, 0.99,
 * 0.999 and 0.9999 sit a quarter of the way apart, with fine steps near 1. p = 0 is exactly 0 (the
 * official demo's failure case: the key encoder is a copy of the query encoder).
 */
export const momentumScale: SliderScale = {
  steps: 1000,
  toValue(position) {
    const p = clamp(Math.round(position), 0, 1000);
    if (p === 0) return 0;
    if (p === 1000) return MOMENTUM_MAX;
    return roundTo(1 - 10 ** ((-4 * p) / 1000), 6);
  },
  toPosition(value) {
    if (!(value > 0)) return 0;
    if (value >= MOMENTUM_MAX) return 1000;
    return clamp(Math.round(-250 * Math.log10(1 - value)), 0, 1000);
  },
};

/** Queue sizes on a log2 scale: the batch size, then each power of two above it up to 65,536. */
export function queueSizes(batchSize: number): number[] {
  const sizes = [Math.min(batchSize, MAX_QUEUE_SIZE)];
  for (let k = 2 ** Math.ceil(Math.log2(batchSize + 1)); k <= MAX_QUEUE_SIZE; k *= 2) sizes.push(k);
  return sizes;
}

export function queueScale(batchSize: number): SliderScale {
  const sizes = queueSizes(batchSize);
  return {
    steps: sizes.length - 1,
    toValue: (position) => sizes[clamp(Math.round(position), 0, sizes.length - 1)],
    toPosition(value) {
      let best = 0;
      sizes.forEach((s, i) => {
        if (Math.abs(Math.log2(s) - Math.log2(value)) < Math.abs(Math.log2(sizes[best]) - Math.log2(value))) best = i;
      });
      return best;
    },
  };
}

/** A log scale between `min` and `max` with `steps` positions, values rounded to 3 significant digits. */
export function logScale(min: number, max: number, steps: number): SliderScale {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  return {
    steps,
    toValue: (position) => Number((10 ** (lo + ((hi - lo) * clamp(Math.round(position), 0, steps)) / steps)).toPrecision(3)),
    toPosition: (value) => clamp(Math.round(((Math.log10(value) - lo) / (hi - lo)) * steps), 0, steps),
  };
}

export const temperatureScale = logScale(0.01, 1, 200);
export const learningRateScale = logScale(1e-4, 1, 400);

/** The linear scaling rule of the MoCo CIFAR recipe: 0.06 at batch 512. */
export function defaultLearningRate(batchSize: number): number {
  return Number(((0.06 * batchSize) / 512).toPrecision(3));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function roundTo(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
