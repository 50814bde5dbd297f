import * as tf from '@tensorflow/tfjs';
import { contrastiveStats, infoNce as infoNceOp, type InfoNceOutputs } from '../../moco/loss';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram, workgroupReduction } from './program';

const INFO_NCE = 'MocoInfoNce';
const INFO_NCE_GRAD = 'MocoInfoNceGrad';
const CONTRASTIVE_STATS = 'MocoContrastiveStats';

const WG = 256;

/** Sizes of the loss: N rows (queries), D dimensions, K negatives; and T. */
const lossUniforms = (n: number, d: number, K: number, temperature: number) => ({ rows: i32(n), dim: i32(d), negatives: i32(K), temperature: f32(temperature) });

const declarations = () => workgroupReduction({ lanes: WG, max: true });

/** float32 bit tests: exponent all ones is Inf or NaN, with a non-zero mantissa NaN. */
const statsDeclarations = () => `${declarations()}
  fn isNaNBits(x : f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
  fn isFiniteBits(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;

type Attrs = { temperature: number };

/**
 * q [N, D], k [N, D], queue [K, D], bias [1, K]; attr temperature → [loss, logits, positive,
 * negative, logNormaliser]: the q·queueᵀ matmul (tfjs's kernel), then one pass for the rest.
 */
const infoNceKernel = kernelFunc<'q' | 'k' | 'queue' | 'bias', Attrs>(['q', 'k', 'queue', 'bias'], ({ q, k, queue, bias }, { temperature }, backend) => {
  const matMul = tf.getKernel('BatchMatMul', 'webgpu')!.kernelFunc;
  const negative = matMul({ inputs: { a: q, b: queue }, attrs: { transposeA: false, transposeB: true }, backend }) as tf.TensorInfo;
  const [n, d] = q.shape;
  const K = negative.shape[1];
  const [loss, logits, positive, lse] = runProgram(backend, {
    name: INFO_NCE,
    inputs: { q, k, negative, bias },
    outputs: { loss: [], logits: [n, K + 1], positive: [n, 1], lse: [n] },
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
  return [loss, logits, positive, negative, lse];
});

/** logits [N, K+1], lse [N], k [N, D], dy []; attr temperature → [dLoss/dnegative [N, K], dLoss/dpositive·k [N, D]]. */
const infoNceGradKernel = kernelFunc<'logits' | 'lse' | 'k' | 'dy', Attrs>(['logits', 'lse', 'k', 'dy'], ({ logits, lse, k, dy }, { temperature }, backend) => {
  const [n, width] = logits.shape;
  const d = k.shape[1];
  const K = width - 1;
  return runProgram(backend, {
    name: INFO_NCE_GRAD,
    inputs: { logits, lse, k, dy },
    outputs: { dnegative: [n, K], dpositive: [n, d] },
    uniforms: lossUniforms(n, d, K, temperature),
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
});

/** logits [N, K+1], positive [N, 1], negative [N, K], bias [1, K]; attr filled → [top-1, mean positive, mean negative over filled slots]. */
const contrastiveStatsKernel = kernelFunc<'logits' | 'positive' | 'negative' | 'bias', { filled: number }>(
  ['logits', 'positive', 'negative', 'bias'],
  ({ logits, positive, negative, bias }, { filled }, backend) => {
  const [n, K] = negative.shape;
  return runProgram(backend, {
    name: CONTRASTIVE_STATS,
    inputs: { logits, positive, negative, bias },
    outputs: { top1: [], meanPositive: [], meanNegative: [] },
    uniforms: { rows: i32(n), negatives: i32(K), denominator: f32(Math.max(1, n * filled)) },
    workgroupSize: [WG, 1, 1],
    dispatch: [1, 1, 1],
    declarations: statsDeclarations,
    body: () => `
      let t = i32(lidx);
      let width = u.negatives + 1;
      var hits = 0.0;
      var negatives = 0.0;
      for (var r = 0; r < u.rows; r++) {
        // argmax = 0: the positive logit is at least every negative one (ties go to the first). A
        // row with a NaN, or an infinite positive, is a miss, as in src/moco/loss.ts. NaN is tested
        // on the bits: WGSL lets a compiler assume that x != x never holds.
        var m = -3.4e38;
        var nans = 0.0;
        for (var j = t; j < u.negatives; j += ${WG}) {
          let l = logits[r * width + 1 + j];
          if (isNaNBits(l)) { nans += 1.0; } else { m = max(m, l); }
          if (bias[j] == 0.0) { negatives += negative[r * u.negatives + j]; }
        }
        let top = reduceMax(m, lidx);
        let rowNaNs = reduceSum(nans, lidx);
        let first = logits[r * width];
        if (t == 0 && rowNaNs == 0.0 && isFiniteBits(first) && first >= top) { hits += 1.0; }
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
});

const CASES: [label: string, n: number, d: number, K: number, filled: number][] = [
  ['4 × 8, queue 10 of 16 filled', 4, 8, 16, 10],
  ['6 × 128, queue 300 of 300 (> one workgroup)', 6, 128, 300, 300],
  ['3 × 5, queue 7 of 40', 3, 5, 40, 7],
];

/** Unit vectors, as the encoders give: queries, keys near them (so that some rank first), the queue, and its empty-slot bias. */
function caseInputs(n: number, d: number, K: number, filled: number, seed: number) {
  const unit = (x: tf.Tensor) => x.div(x.norm('euclidean', 1, true)) as tf.Tensor2D;
  const q = unit(normal([n, d], seed));
  const k = unit(q.mul(3).add(normal([n, d], seed + 1)));
  const queue = unit(normal([K, d], seed + 2));
  const bias = tf.where(tf.range(0, K).less(filled), tf.zeros([K]), tf.fill([K], -1e9)).reshape([1, K]) as tf.Tensor2D;
  return { q, k, queue, bias };
}

/**
 * InfoNCE against the queue (src/moco/loss.ts) in 2 dispatches forward (the q·queueᵀ matmul, then
 * one pass for the positive logits, the softmax's log-normaliser and the mean loss) and 2 backward
 * (the logits' gradient, then one matmul back through the queue with the positive term as its
 * bias); the contrastive statistics in one. Differentiable through the loss.
 */
export const infoNce: CustomKernel = {
  name: 'InfoNce',
  kernels: [
    {
      kernelName: INFO_NCE,
      kernelFunc: infoNceKernel,
      gradient: {
        inputsToSave: ['k', 'queue'],
        outputsToSave: [false, true, false, false, true],
        gradFunc: (dys, [k, queue, logits, lse], attrs) => ({
          q: () => {
            const [dnegative, dpositive] = runKernel(INFO_NCE_GRAD, { logits, lse, k, dy: (dys as tf.Tensor[])[0] }, attrs);
            return tf.fused.matMul({ a: dnegative, b: queue, bias: dpositive });
          },
        }),
      },
    },
    { kernelName: INFO_NCE_GRAD, kernelFunc: infoNceGradKernel },
    { kernelName: CONTRASTIVE_STATS, kernelFunc: contrastiveStatsKernel },
  ],
  overrides: [
    attach(infoNceOp, (_plain, q, k, queue, bias, temperature): InfoNceOutputs => {
      const [loss, logits, positive, negative, lse] = runKernel(INFO_NCE, { q, k, queue, bias }, { temperature });
      lse.dispose();
      return { loss: loss as tf.Scalar, logits: logits as tf.Tensor2D, positive: positive as tf.Tensor2D, negative: negative as tf.Tensor2D };
    }),
    attach(contrastiveStats, (_plain, out, bias, filled) => {
      const [top1, meanPositive, meanNegative] = runKernel(CONTRASTIVE_STATS, { logits: out.logits, positive: out.positive, negative: out.negative, bias }, { filled });
      return { top1: top1 as tf.Scalar, meanPositive: meanPositive as tf.Scalar, meanNegative: meanNegative as tf.Scalar };
    }),
  ],
  cases: [
    {
      name: 'Contrastive statistics: rows with a NaN or an infinite positive are misses',
      program: CONTRASTIVE_STATS,
      run: () => {
        const out = faultyLogits();
        return { top1: contrastiveStats(out, tf.zeros([1, 3]), 3).top1 };
      },
    },
    ...CASES.flatMap(([label, n, d, K, filled], i) => [
    {
      name: `InfoNCE forward and statistics, ${label}`,
      program: INFO_NCE,
      run: () => {
        const { q, k, queue, bias } = caseInputs(n, d, K, filled, 130 + 10 * i);
        const out = infoNceOp(q, k, queue, bias, 0.2);
        return { ...out, ...contrastiveStats(out, bias, filled) };
      },
    },
    {
      name: `InfoNCE backward, ${label}`,
      program: INFO_NCE_GRAD,
      run: () => {
        const { q, k, queue, bias } = caseInputs(n, d, K, filled, 130 + 10 * i);
        return { dq: tf.grad((x: tf.Tensor) => infoNceOp(x as tf.Tensor2D, k, queue, bias, 0.2).loss)(q) };
      },
    },
  ]),
  ],
};

/**
 * Logits of a run gone wrong, one row each: a hit, a miss, a hit but for one NaN negative, all
 * NaN, an infinite positive; positive and negative similarities to match (finite, to compare).
 */
function faultyLogits(): InfoNceOutputs {
  const rows = [
    [5, 1, 2, 3],
    [1, 4, 2, 3],
    [5, 1, Number.NaN, 3],
    [Number.NaN, Number.NaN, Number.NaN, Number.NaN],
    [Number.POSITIVE_INFINITY, 1, 2, 3],
  ];
  const logits = tf.tensor2d(rows);
  const positive = tf.ones([rows.length, 1]) as tf.Tensor2D;
  const negative = tf.zeros([rows.length, 3]) as tf.Tensor2D;
  return { loss: tf.scalar(0), logits, positive, negative };
}
