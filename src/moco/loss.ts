import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

export interface InfoNceOutputs {
  /** Scalar: mean over the batch of −log softmax(logits)[0]. */
  loss: tf.Scalar;
  /** `[N, 1 + K]`: [q·k₊, q·queueᵀ] / T, empty slots at −∞ in effect. */
  logits: tf.Tensor2D;
  /** `[N, 1]` positive cosine similarities q·k₊ (q and k are unit vectors). */
  positive: tf.Tensor2D;
  /** `[N, K]` negative cosine similarities q·queueᵀ (empty slots included; mask them out). */
  negative: tf.Tensor2D;
}

/**
 * InfoNCE, MoCo's contrastive loss: a (K+1)-way classification whose correct class, index 0, is
 * the key made from another view of the same image. `emptySlotBias` ([1, K], 0 or a huge negative
 * number) removes the queue's unfilled slots from the softmax without changing any shape.
 */
export const infoNce = overridable('infoNce', (q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, emptySlotBias: tf.Tensor2D, temperature: number): InfoNceOutputs =>
  tf.tidy(() => {
    const positive = tf.sum(tf.mul(q, k), 1, true) as tf.Tensor2D;
    const negative = tf.matMul(q, queue, false, true) as tf.Tensor2D;
    const logits = tf.concat([positive, negative.add(emptySlotBias)], 1).div(temperature) as tf.Tensor2D;
    // Cross-entropy against class 0: logsumexp(logits) − logits[:, 0].
    const loss = tf.mean(tf.logSumExp(logits, 1).sub(logits.slice([0, 0], [-1, 1]).squeeze([1]))) as tf.Scalar;
    return { loss, logits, positive, negative };
  }),
);

export interface ContrastiveStats {
  /**
   * Fraction of queries whose positive key scores above every negative; a row with a NaN logit, or
   * an infinite positive one, is a miss (a run gone NaN must not read as 100%).
   */
  top1: tf.Scalar;
  meanPositive: tf.Scalar;
  /** Mean over filled slots only (0 while the queue is empty). */
  meanNegative: tf.Scalar;
}

export const contrastiveStats = overridable('contrastiveStats', (out: InfoNceOutputs, emptySlotBias: tf.Tensor2D, filled: number): ContrastiveStats =>
  tf.tidy(() => {
    const n = out.positive.shape[0];
    const ranksFirst = tf.argMax(out.logits, 1).equal(0);
    const positiveFinite = tf.isFinite(out.logits.slice([0, 0], [-1, 1]).squeeze([1]));
    const anyNaN = tf.any(tf.isNaN(out.logits), 1);
    const top1 = tf.logicalAnd(tf.logicalAnd(ranksFirst, positiveFinite), tf.logicalNot(anyNaN)).cast('float32').mean() as tf.Scalar;
    const meanPositive = out.positive.mean() as tf.Scalar;
    // Masked rather than sliced, so that the shapes (and compiled GPU programs) never depend on the fill.
    const filledMask = emptySlotBias.equal(0).cast('float32');
    const meanNegative = out.negative.mul(filledMask).sum().div(Math.max(1, n * filled)) as tf.Scalar;
    return { top1, meanPositive, meanNegative };
  }),
);
