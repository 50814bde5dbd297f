import * as tf from '@tensorflow/tfjs';
import { gridStride, gridStrideLoop, runProgram, type Uniform } from './program';

/**
 * InfoNCE against the queue in 2 dispatches forward (the q·queueᵀ matmul, then one pass for the
 * positive logits, the softmax's log-normaliser and the mean loss) and 2 backward (one pass for
 * the logits' gradient, one matmul back through the queue, with the positive term as its bias),
 * instead of about 15 and 20 element-wise and reduction kernels; and the contrastive statistics in
 * one dispatch instead of about 10. Same definitions as src/moco/loss.ts.
 *
 * The forward pass and the statistics run as one workgroup walking the rows (the loss is a mean
 * over them): at MoCo's sizes (256 × 4,097 logits) that is a few MB read once, well under the
 * cost of the dispatches it replaces.
 */

export const INFO_NCE_KERNEL = 'MocoInfoNce';
export const INFO_NCE_GRAD_KERNEL = 'MocoInfoNceGrad';
export const CONTRASTIVE_STATS_KERNEL = 'MocoContrastiveStats';

const WG = 256;

/** Workgroup-wide sum or max of `v` (every invocation gets the result); uses `red`. */
const workgroupReduce = `
  fn reduceSum(v : f32, lidx : u32) -> f32 {
    red[lidx] = v;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
      if (lidx < s) { red[lidx] += red[lidx + s]; }
      workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
  }
  fn reduceMax(v : f32, lidx : u32) -> f32 {
    red[lidx] = v;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
      if (lidx < s) { red[lidx] = max(red[lidx], red[lidx + s]); }
      workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
  }`;

/** Sizes of the loss: N rows (queries), D dimensions, K negatives; and T. */
function lossUniforms(n: number, d: number, K: number, temperature: number): Uniform[] {
  return [
    { name: 'rows', type: 'i32', value: n },
    { name: 'dim', type: 'i32', value: d },
    { name: 'negatives', type: 'i32', value: K },
    { name: 'temperature', type: 'f32', value: temperature },
  ];
}

const declarations = () => `var<workgroup> red : array<f32, ${WG}>;\n${workgroupReduce}`;

/** q [N, D], k [N, D], negative = q·queueᵀ [N, K], bias [1, K]; attr temperature → [loss, logits, positive, logNormaliser]. */
export const infoNceKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { q, k, negative, bias } = inputs as Record<string, tf.TensorInfo>;
  const { temperature } = attrs as unknown as { temperature: number };
  const [n, d] = q.shape;
  const K = negative.shape[1];
  return runProgram(backend, {
    name: INFO_NCE_KERNEL,
    key: '',
    outputs: [
      { name: 'loss', shape: [] },
      { name: 'logits', shape: [n, K + 1] },
      { name: 'positive', shape: [n, 1] },
      { name: 'lse', shape: [n] },
    ],
    inputs: [
      { name: 'q', tensor: q },
      { name: 'k', tensor: k },
      { name: 'negative', tensor: negative },
      { name: 'bias', tensor: bias },
    ],
    uniforms: lossUniforms(n, d, K, temperature),
    workgroupSize: [WG, 1, 1],
    dispatch: [1, 1, 1],
    declarations,
    body: () => `
      let t = i32(lidx);
      let width = u.negatives + 1;
      var total = 0.0;
      for (var r = 0; r < u.rows; r++) {
        var p = 0.0;
        for (var j = t; j < u.dim; j += ${WG}) { p += q[r * u.dim + j] * k[r * u.dim + j]; }
        let pos = reduceSum(p, lidx);
        let first = pos / u.temperature;
        var m = first;
        for (var j = t; j < u.negatives; j += ${WG}) {
          let l = (negative[r * u.negatives + j] + bias[j]) / u.temperature;
          logits[r * width + 1 + j] = l;
          m = max(m, l);
        }
        let top = reduceMax(m, lidx);
        var s = select(0.0, exp(first - top), t == 0);
        for (var j = t; j < u.negatives; j += ${WG}) { s += exp(logits[r * width + 1 + j] - top); }
        let logNorm = top + log(reduceSum(s, lidx));
        if (t == 0) {
          logits[r * width] = first;
          positive[r] = pos;
          lse[r] = logNorm;
          total += logNorm - first;
        }
      }
      if (t == 0) { loss[0] = total / f32(u.rows); }`,
  });
};

/** logits [N, K+1], lse [N], k [N, D], dy []; attr temperature → [dLoss/dnegative [N, K], dLoss/dpositive·k [N, D]]. */
export const infoNceGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, lse, k, dy } = inputs as Record<string, tf.TensorInfo>;
  const { temperature } = attrs as unknown as { temperature: number };
  const [n, width] = logits.shape;
  const d = k.shape[1];
  const K = width - 1;
  return runProgram(backend, {
    name: INFO_NCE_GRAD_KERNEL,
    key: '',
    outputs: [
      { name: 'dnegative', shape: [n, K] },
      { name: 'dpositive', shape: [n, d] },
    ],
    inputs: [
      { name: 'logits', tensor: logits },
      { name: 'lse', tensor: lse },
      { name: 'k', tensor: k },
      { name: 'dy', tensor: dy },
    ],
    uniforms: lossUniforms(n, d, K, temperature),
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(n * (K + d)),
    body: () => `
      // d loss / d logit[r, j] = dy/N · (softmax − [j = 0]); logits are (q·key)/T.
      let scale = dy[0] / (f32(u.rows) * u.temperature);
      let width = u.negatives + 1;
      ${gridStrideLoop('u.rows * (u.negatives + u.dim)')} {
        if (i < u.rows * u.negatives) {
          let r = i / u.negatives;
          let j = i - r * u.negatives;
          dnegative[i] = exp(logits[r * width + 1 + j] - lse[r]) * scale;
        } else {
          let e = i - u.rows * u.negatives;
          let r = e / u.dim;
          dpositive[e] = (exp(logits[r * width] - lse[r]) - 1.0) * scale * k[e];
        }
      }`,
  });
};

/** logits [N, K+1], positive [N, 1], negative [N, K], bias [1, K]; attr filled → [top-1, mean positive, mean negative over filled slots]. */
export const contrastiveStatsKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, positive, negative, bias } = inputs as Record<string, tf.TensorInfo>;
  const { filled } = attrs as unknown as { filled: number };
  const [n, K] = negative.shape;
  return runProgram(backend, {
    name: CONTRASTIVE_STATS_KERNEL,
    key: '',
    outputs: [
      { name: 'top1', shape: [] },
      { name: 'meanPositive', shape: [] },
      { name: 'meanNegative', shape: [] },
    ],
    inputs: [
      { name: 'logits', tensor: logits },
      { name: 'positive', tensor: positive },
      { name: 'negative', tensor: negative },
      { name: 'bias', tensor: bias },
    ],
    uniforms: [
      { name: 'rows', type: 'i32', value: n },
      { name: 'negatives', type: 'i32', value: K },
      { name: 'denominator', type: 'f32', value: Math.max(1, n * filled) },
    ],
    workgroupSize: [WG, 1, 1],
    dispatch: [1, 1, 1],
    declarations,
    body: () => `
      let t = i32(lidx);
      let width = u.negatives + 1;
      var hits = 0.0;
      var negatives = 0.0;
      for (var r = 0; r < u.rows; r++) {
        // argmax = 0: the positive logit is at least every negative one (ties go to the first).
        var m = -3.4e38;
        for (var j = t; j < u.negatives; j += ${WG}) {
          m = max(m, logits[r * width + 1 + j]);
          if (bias[j] == 0.0) { negatives += negative[r * u.negatives + j]; }
        }
        let top = reduceMax(m, lidx);
        if (t == 0 && logits[r * width] >= top) { hits += 1.0; }
      }
      var p = 0.0;
      for (var r = t; r < u.rows; r += ${WG}) { p += positive[r]; }
      let positives = reduceSum(p, lidx);
      let negativeSum = reduceSum(negatives, lidx);
      if (t == 0) {
        top1[0] = hits / f32(u.rows);
        meanPositive[0] = positives / f32(u.rows);
        meanNegative[0] = negativeSum / u.denominator;
      }`,
  });
};

export interface FusedInfoNceOutputs {
  loss: tf.Scalar;
  logits: tf.Tensor2D;
  positive: tf.Tensor2D;
  negative: tf.Tensor2D;
}

/** InfoNCE (see src/moco/loss.ts) on the fused kernels; differentiable in q through tf.customGrad. */
export function infoNceWebGpu(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, emptySlotBias: tf.Tensor2D, temperature: number): FusedInfoNceOutputs {
  const attrs = { temperature } as unknown as tf.NamedAttrMap;
  let kept: tf.Tensor[] = [];
  const forward = tf.customGrad((...args) => {
    const [qIn, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const negative = tf.matMul(qIn, queue, false, true);
    const [loss, logits, positive, lse] = tf.engine().runKernel(INFO_NCE_KERNEL, { q: qIn, k, negative, bias: emptySlotBias }, attrs) as tf.Tensor[];
    // The forward pass runs in a tidy of tfjs's: keep the other outputs past it.
    kept = [logits, positive, negative].map((t) => tf.keep(t));
    save([logits, lse]);
    return {
      value: loss as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dnegative, dpositive] = tf.engine().runKernel(INFO_NCE_GRAD_KERNEL, { logits: saved[0], lse: saved[1], k, dy }, attrs) as tf.Tensor2D[];
        return tf.fused.matMul({ a: dnegative, b: queue, bias: dpositive });
      },
    };
  });
  const loss = forward(q) as tf.Scalar;
  const [logits, positive, negative] = kept.map((t) => {
    const c = t.clone();
    t.dispose();
    return c as tf.Tensor2D;
  });
  return { loss, logits, positive, negative };
}

export function contrastiveStatsWebGpu(out: FusedInfoNceOutputs, emptySlotBias: tf.Tensor2D, filled: number): { top1: tf.Scalar; meanPositive: tf.Scalar; meanNegative: tf.Scalar } {
  const [top1, meanPositive, meanNegative] = tf.engine().runKernel(
    CONTRASTIVE_STATS_KERNEL,
    { logits: out.logits, positive: out.positive, negative: out.negative, bias: emptySlotBias },
    { filled },
  ) as tf.Scalar[];
  return { top1, meanPositive, meanNegative };
}
