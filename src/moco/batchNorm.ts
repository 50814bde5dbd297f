import * as tf from '@tensorflow/tfjs';
import { lerpAssign } from './momentum';
import { overridable } from './overridable';

export const BN_EPSILON = 1e-5;
/** PyTorch's convention: moving ← (1 − momentum)·moving + momentum·batch. */
export const BN_MOMENTUM = 0.1;

/**
 * The batch statistics come back for the moving statistics' update after the pass
 * (`updateMovingStatistics`), except where the operation was handed the moving statistics
 * (`moving`) and updated them itself: then both are absent.
 */
export interface SplitBatchNormResult {
  y: tf.Tensor4D;
  /** Mean of the group means, per channel: what the moving mean tracks. */
  batchMean?: tf.Tensor1D;
  /** Mean of the groups' unbiased variances, per channel: what the moving variance tracks. */
  batchVariance?: tf.Tensor1D;
}

/**
 * A layer's moving statistics, handed to the training-mode batch-norm so that a kernel may update
 * them in the pass that normalises (moving ← (1 − BN_MOMENTUM)·moving + BN_MOMENTUM·batch). The
 * plain operation leaves them alone and returns the batch statistics instead.
 */
export type MovingVariables = Pick<MovingStatistics, 'movingMean' | 'movingVariance'>;

/**
 * Split batch-norm (the official MoCo CIFAR demo's "SplitBatchNorm"): the batch is cut into `groups`
 * runs of consecutive samples, and each run is normalised with its own statistics. On one device this
 * stands in for per-GPU batch-norm, which is what makes shuffling the key batch meaningful: without it
 * the query and key encoders could "cheat" through shared batch statistics.
 */
export const splitBatchNorm = overridable(
  'splitBatchNorm',
  // The moving statistics are for an override that updates them as it normalises; this returns the batch statistics.
  (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, epsilon = BN_EPSILON, _moving?: MovingVariables): SplitBatchNormResult =>
    tf.tidy(() => {
      const [n, h, w, c] = x.shape;
      if (n % groups !== 0) throw new Error(`split batch-norm: batch ${n} is not a multiple of ${groups} groups`);
      const grouped = x.reshape([groups, n / groups, h, w, c]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 3], true);
      const normalised = grouped.sub(mean).mul(tf.rsqrt(variance.add(epsilon))).reshape([n, h, w, c]);
      const y = normalised.mul(gamma).add(beta) as tf.Tensor4D;
      const count = (n / groups) * h * w;
      const unbiased = count > 1 ? variance.mul(count / (count - 1)) : variance;
      return {
        y,
        batchMean: mean.mean([0, 1, 2, 3]) as tf.Tensor1D,
        batchVariance: unbiased.mean([0, 1, 2, 3]) as tf.Tensor1D,
      };
    }),
);

/**
 * ReLU(splitBatchNorm(x) + residual) (no residual: ReLU(splitBatchNorm(x))), with the batch
 * statistics: one operation, so that a kernel can add and rectify as it normalises (and take the
 * ReLU's gradient with the batch-norm's).
 */
export const splitBatchNormRelu = overridable(
  'splitBatchNormRelu',
  (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, residual?: tf.Tensor4D, epsilon = BN_EPSILON, moving?: MovingVariables): SplitBatchNormResult =>
    tf.tidy(() => {
      const { y, batchMean, batchVariance } = splitBatchNorm(x, gamma, beta, groups, epsilon, moving);
      return { y: tf.relu(residual ? tf.add(y, residual) : y) as tf.Tensor4D, batchMean, batchVariance };
    }),
);

/** One batch-norm layer's moving statistics and the batch statistics they follow. */
export interface MovingStatistics {
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
  batchMean: tf.Tensor1D;
  batchVariance: tf.Tensor1D;
}

/**
 * Moving statistics ← (1 − momentum)·moving + momentum·batch (PyTorch's convention), outside any
 * gradient, for every layer of a forward pass at once (one moving-average operation for all).
 */
export function updateMovingStatistics(layers: readonly MovingStatistics[], momentum = BN_MOMENTUM): void {
  lerpAssign(
    layers.flatMap((l) => [[l.movingMean, l.batchMean] as const, [l.movingVariance, l.batchVariance] as const]),
    1 - momentum,
    momentum,
  );
}

/** Inference-mode batch-norm with the moving statistics. */
export function frozenBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  movingMean: tf.Tensor1D,
  movingVariance: tf.Tensor1D,
  epsilon = BN_EPSILON,
): tf.Tensor4D {
  return tf.tidy(() => x.sub(movingMean).mul(tf.rsqrt(movingVariance.add(epsilon))).mul(gamma).add(beta) as tf.Tensor4D);
}
