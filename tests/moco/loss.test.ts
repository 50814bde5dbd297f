import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { contrastiveStats, infoNce } from '../../src/moco/loss';
import { useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);

describe('contrastive accuracy', () => {
  it('counts a row with a NaN logit, or an infinite positive, as a miss', async () => {
    // One row each: a hit, a miss, a hit but for one NaN negative, all NaN, an infinite positive.
    const logits = tf.tensor2d([
      [5, 1, 2, 3],
      [1, 4, 2, 3],
      [5, 1, Number.NaN, 3],
      [Number.NaN, Number.NaN, Number.NaN, Number.NaN],
      [Number.POSITIVE_INFINITY, 1, 2, 3],
    ]);
    const out = { loss: tf.scalar(0), logits, positive: tf.ones([5, 1]) as tf.Tensor2D, negative: tf.zeros([5, 3]) as tf.Tensor2D };
    const { top1 } = contrastiveStats(out, tf.zeros([1, 3]), 3);
    expect(await top1.data()).toEqual(new Float32Array([0.2]));
  });

  it('of NaN embeddings is 0, not the 100% that argmax of a NaN row gives', async () => {
    const q = tf.fill([4, 8], Number.NaN) as tf.Tensor2D;
    const k = tf.fill([4, 8], 0.5) as tf.Tensor2D;
    const queue = tf.fill([6, 8], 0.25) as tf.Tensor2D;
    const out = infoNce(q, k, queue, tf.zeros([1, 6]), 0.2);
    expect(tf.argMax(out.logits, 1).dataSync()).toEqual(new Int32Array([0, 0, 0, 0]));
    expect((await contrastiveStats(out, tf.zeros([1, 6]), 6).top1.data())[0]).toBe(0);
  });
});
