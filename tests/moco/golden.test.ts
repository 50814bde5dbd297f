import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitBatchNorm } from '../../src/moco/batchNorm';
import { contrastiveStats, infoNce } from '../../src/moco/loss';
import { momentumUpdate } from '../../src/moco/momentum';
import { learningRateAt } from '../../src/moco/schedule';
import { flat, loadGolden, relativeError, useCpuBackend, type Golden } from '../support/helpers';

// Every expected number here was computed independently by PyTorch in float64 (../shared/golden).
let golden: Golden;
beforeAll(async () => {
  await useCpuBackend();
  golden = loadGolden();
});

/** The queue's empty-slot bias for `filled` of `capacity` slots, built the way KeyQueue builds it. */
function bias(capacity: number, filled: number): tf.Tensor2D {
  return tf.tensor2d([Array.from({ length: capacity }, (_, i) => (i < filled ? 0 : -1e9))]);
}

describe('InfoNCE against PyTorch', () => {
  it('gives the logits, loss, contrastive accuracy and similarities of a full queue', async () => {
    const g = golden.info_nce;
    const [q, k, queue] = [tf.tensor2d(g.q), tf.tensor2d(g.k), tf.tensor2d(g.queue)];
    const out = infoNce(q, k, queue, bias(6, 6), g.T);
    const stats = contrastiveStats(out, bias(6, 6), 6);
    expect(relativeError(await out.logits.data(), flat(g.logits))).toBeLessThan(1e-5);
    expect((await out.loss.data())[0]).toBeCloseTo(g.loss, 5);
    expect((await stats.top1.data())[0]).toBe(g.contrastive_top1);
    expect((await stats.meanPositive.data())[0]).toBeCloseTo(g.mean_pos_sim, 6);
    expect((await stats.meanNegative.data())[0]).toBeCloseTo(g.mean_neg_sim, 6);
  });

  it('has the gradient of PyTorch with respect to q', async () => {
    const g = golden.info_nce;
    const [k, queue] = [tf.tensor2d(g.k), tf.tensor2d(g.queue)];
    const grad = tf.grad((q: tf.Tensor) => infoNce(q as tf.Tensor2D, k, queue, bias(6, 6), g.T).loss)(tf.tensor2d(g.q));
    expect(relativeError(await grad.data(), flat(g.grad_q))).toBeLessThan(1e-5);
  });

  it('ignores the empty slots of a partly filled queue, in the loss and in its gradient', async () => {
    const g = golden.info_nce;
    const p = golden.info_nce_partial_queue;
    const [k, queue] = [tf.tensor2d(g.k), tf.tensor2d(g.queue)];
    const f = (q: tf.Tensor) => infoNce(q as tf.Tensor2D, k, queue, bias(6, p.filled), g.T).loss;
    const q = tf.tensor2d(g.q);
    expect((await f(q).data())[0]).toBeCloseTo(p.loss, 5);
    expect(relativeError(await tf.grad(f)(q).data(), flat(p.grad_q))).toBeLessThan(1e-5);
    // The full-queue loss differs, so the bias really removed something.
    expect(Math.abs(g.loss - p.loss)).toBeGreaterThan(1);
  });
});

describe('momentum update against PyTorch', () => {
  for (const m of [0, 0.9, 0.99, 1]) {
    it(`m = ${m}`, async () => {
      const g = golden.momentum_update;
      const expected = g.cases.find((c) => c.m === m)!.result;
      const thetaQ = new Map([['w', tf.variable(tf.tensor2d(g.theta_q))]]);
      const thetaK = new Map([['w', tf.variable(tf.tensor2d(g.theta_k))]]);
      momentumUpdate(thetaK, thetaQ, m);
      const got = await thetaK.get('w')!.data();
      expect(relativeError(got, flat(expected))).toBeLessThan(1e-6);
      if (m === 0) expect(Array.from(got)).toEqual(Array.from(new Float32Array(flat(g.theta_q))));
      if (m === 1) expect(Array.from(got)).toEqual(Array.from(new Float32Array(flat(g.theta_k))));
      // The query encoder is never touched.
      expect(Array.from(await thetaQ.get('w')!.data())).toEqual(Array.from(new Float32Array(flat(g.theta_q))));
    });
  }
});

describe('split batch-norm against PyTorch', () => {
  it('normalises each group of consecutive samples with its own statistics', async () => {
    const g = golden.split_batch_norm;
    const { y } = splitBatchNorm(tf.tensor4d(g.x_nhwc), tf.tensor1d(g.gamma), tf.tensor1d(g.beta), g.groups, g.eps);
    expect(relativeError(await y.data(), flat(g.y_nhwc))).toBeLessThan(1e-5);
  });

  it('differs from one batch-norm over the whole batch', async () => {
    const g = golden.split_batch_norm;
    const { y } = splitBatchNorm(tf.tensor4d(g.x_nhwc), tf.tensor1d(g.gamma), tf.tensor1d(g.beta), 1, g.eps);
    expect(relativeError(await y.data(), flat(g.y_nhwc))).toBeGreaterThan(1e-2);
  });
});

describe('learning-rate schedule against PyTorch', () => {
  it('warms up linearly, then decays along a cosine to 0', () => {
    const g = golden.cosine_schedule;
    const lr = g.lr.map((_, step) =>
      learningRateAt(step, { baseLr: g.base_lr, warmupSteps: g.warmup_steps, totalSteps: g.total_steps, cosine: true }),
    );
    expect(relativeError(lr, g.lr)).toBeLessThan(1e-12);
  });
});
