import * as tf from '@tensorflow/tfjs';
import { splitBatchNorm as splitBatchNormOp, splitBatchNormRelu as splitBatchNormReluOp, type SplitBatchNormResult } from '../../moco/batchNorm';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { disposeIntermediate, f32, gridStride, gridStrideLoop, i32, runProgram, workgroupReduction } from './program';

/*
 * The batch `[N, H, W, C]` is read as `[G, R, C]`: G groups of R = N/G·H·W rows. Per-group
 * statistics are `[2, G, C]`: means, then biased variances. The programs:
 * - MocoBatchNormStats: x → stats. One workgroup per (channel tile, group); two passes over the
 *   group's rows (mean, then squared deviations) like tf.moments, so no cancellation.
 * - MocoBatchNormNormalize: x, stats, γ, β → y, and the batch mean and (unbiased) variance per
 *   channel, i.e. the group statistics averaged over groups, for the moving averages.
 * - MocoBatchNormGradStats: dy, x, stats → [2, G, C]: Σdy and Σdy·x̂ per group.
 * - MocoBatchNormGrad: dy, x, stats, those sums, γ → dx, dγ, dβ:
 *   dx = γ·rstd·(dy − Σdy/R − x̂·Σdy·x̂/R), dγ = Σ_g Σdy·x̂, dβ = Σ_g Σdy.
 * With the ReLU (and residual add) fused, y = max(normalised + residual, 0): the normalising pass
 * adds and rectifies, and the gradient sums take dy·[y > 0] (written out as they go: the residual's
 * gradient, and the input of the gradient pass), so that neither the add nor the ReLU and its
 * gradient costs a dispatch of its own.
 */

const FORWARD = 'MocoSplitBatchNorm';
const GRAD = 'MocoSplitBatchNormGrad';
const STATS = 'MocoBatchNormStats';
const NORMALIZE = 'MocoBatchNormNormalize';
const GRAD_STATS = 'MocoBatchNormGradStats';
const GRAD_PASS = 'MocoBatchNormGrad';
const FORWARD_RELU = 'MocoSplitBatchNormRelu';
const GRAD_RELU = 'MocoSplitBatchNormReluGrad';
const NORMALIZE_RELU = 'MocoBatchNormNormalizeRelu';
const GRAD_STATS_RELU = 'MocoBatchNormReluGradStats';

/** ReLU (and the residual add) left to their own kernels (`--variants custom,custom+SeparateRelu`): the A/B of the fusion. */
let separateRelu = false;

/** Rows split over more workgroups (opt-in `BatchNormRowSplit`, set by the switch). */
let rowSplit = false;

interface GroupAttrs {
  groups: number;
  epsilon: number;
}

function layout(x: tf.TensorInfo, groups: number) {
  const [n, h, w, c] = x.shape;
  if (x.shape.length !== 4) throw new Error(`split batch-norm expects NHWC input, got shape [${x.shape}]`);
  if (n % groups !== 0) throw new Error(`split batch-norm: batch ${n} is not a multiple of ${groups} groups`);
  return { channels: c, groups, rows: (n / groups) * h * w, size: n * h * w * c };
}

/** Channels per workgroup (coalesced reads along C) × row lanes = 256 invocations. */
function channelTile(channels: number): number {
  let t = 1;
  while (t < channels && t < 32) t *= 2;
  return t;
}

/**
 * Pass `p` of a per-(channel, group) reduction over the group's rows `from`..`to`, in a workgroup
 * of `ct` channels × row lanes: `accumulate` adds to `acc{p}` (vec2) from element index `e`; the
 * workgroup's total for channel `c` is then `total{p}`. Expects `c`, `base` (see `reductionPrelude`).
 */
function reductionPass(p: number, rowLanes: number, accumulate: string, rows = { from: '0', to: 'u.rows' }): string {
  return `
    var acc${p} = vec2<f32>(0.0);
    if (c < u.channels) {
      for (var r = ${rows.from} + i32(lid.y); r < ${rows.to}; r += ${rowLanes}) {
        let e = base + r * u.channels;
        ${accumulate}
      }
    }
    let total${p} = reduceSum(acc${p}, lidx);`;
}

const reductionPrelude = (ct: number) => `
    let c = i32(wid.x) * ${ct} + i32(lid.x);
    let g = i32(wid.y);
    let base = g * u.rows * u.channels + c;`;

/**
 * Row chunks per (channel tile, group) when rows are split over workgroups: enough workgroups to
 * fill a GPU (about 256), while each invocation still sums at least 64 rows (a merge dispatch
 * costs more than it saves on short reductions). Why: docs/PERFORMANCE.md, "Batch-norm row split".
 */
export function rowSplits(rows: number, channels: number, groups: number): number {
  const ct = channelTile(channels);
  const workgroups = Math.ceil(channels / ct) * groups;
  return Math.max(1, Math.min(Math.ceil(256 / workgroups), Math.floor(rows / ((256 / ct) * 64))));
}

function reductionSpec(x: tf.TensorInfo, groups: number, splitRows = false) {
  const l = layout(x, groups);
  const ct = channelTile(l.channels);
  const rowLanes = 256 / ct;
  const splits = splitRows ? rowSplits(l.rows, l.channels, groups) : 1;
  return {
    l,
    ct,
    rowLanes,
    splits,
    workgroupSize: [ct, rowLanes, 1] as [number, number, number],
    dispatch: [Math.ceil(l.channels / ct), groups, splits] as [number, number, number],
    declarations: () => workgroupReduction({ type: 'vec2<f32>', lanes: rowLanes, stride: ct }),
    uniforms: { rows: i32(l.rows), channels: i32(l.channels), groups: i32(groups) },
  };
}

/** The rows of workgroup `wid.z`'s chunk when a reduction's rows are split over `nwg.z` workgroups (all rows when 1). */
const chunkRows = `
      let chunk = (u.rows + i32(nwg.z) - 1) / i32(nwg.z);
      let r0 = i32(wid.z) * chunk;
      let r1 = min(u.rows, r0 + chunk);
      let n = max(r1 - r0, 0);`;

/**
 * Per-group means and biased variances, two passes (mean, then squared deviations). With the rows
 * split over workgroups, each chunk writes its count, mean and sum of squared deviations, and one
 * invocation per (group, channel) merges the chunks with Chan et al.'s pairwise update, which keeps
 * the two-pass accuracy.
 */
function groupStatistics(backend: object, x: tf.TensorInfo, groups: number): tf.TensorInfo {
  const s = reductionSpec(x, groups, rowSplit);
  const { channels } = s.l;
  const split = s.splits > 1;
  const [stats] = runProgram(backend, {
    name: STATS,
    key: `${s.ct}${split ? '|chunks' : ''}`,
    inputs: { x },
    outputs: { stats: split ? [s.splits, 3, groups, channels] : [2, groups, channels] },
    uniforms: s.uniforms,
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${reductionPrelude(s.ct)}
      ${chunkRows}
      ${reductionPass(0, s.rowLanes, 'acc0.x += x[e];', { from: 'r0', to: 'r1' })}
      let mean = select(0.0, total0.x / f32(n), n > 0);
      ${reductionPass(1, s.rowLanes, 'let d = x[e] - mean; acc1.x += d * d;', { from: 'r0', to: 'r1' })}
      if (lid.y == 0u && c < u.channels) {
        let gc = g * u.channels + c;
        let plane = u.groups * u.channels;
        ${
          split
            ? `let at = i32(wid.z) * 3 * plane + gc;
        stats[at] = f32(n);
        stats[at + plane] = mean;
        stats[at + 2 * plane] = total1.x;`
            : `stats[gc] = mean;
        stats[plane + gc] = total1.x / f32(n);`
        }
      }`,
  });
  if (!split) return stats;
  const [merged] = runProgram(backend, {
    name: STATS,
    key: 'merge',
    inputs: { chunks: stats },
    outputs: { merged: [2, groups, channels] },
    uniforms: { groupChannels: i32(groups * channels), splits: i32(s.splits) },
    dispatch: gridStride(groups * channels),
    body: () => `
      ${gridStrideLoop('u.groupChannels')} {
        var count = 0.0;
        var mean = 0.0;
        var m2 = 0.0;
        for (var k = 0; k < u.splits; k++) {
          let at = k * 3 * u.groupChannels + i;
          let nb = chunks[at];
          if (nb == 0.0) { continue; }
          let total = count + nb;
          let d = chunks[at + u.groupChannels] - mean;
          mean += d * nb / total;
          m2 += chunks[at + 2 * u.groupChannels] + d * d * count * nb / total;
          count = total;
        }
        merged[i] = mean;
        merged[u.groupChannels + i] = m2 / count;
      }`,
  });
  disposeIntermediate(backend, stats);
  return merged;
}

/** `total`: channel `i`'s sums over the groups of both planes of a [2, G, C] buffer. */
const totalOverGroups = (buffer: string) => `
          var total = vec2<f32>(0.0);
          for (var k = 0; k < u.groups; k++) {
            total += vec2<f32>(${buffer}[k * u.channels + i], ${buffer}[(u.groups + k) * u.channels + i]);
          }`;

/** Uniforms and grid of the element-wise passes (normalise, input gradient): one invocation per element of x. */
function elementwise(l: ReturnType<typeof layout>, epsilon: number) {
  return {
    uniforms: { size: i32(l.size), rows: i32(l.rows), channels: i32(l.channels), groups: i32(l.groups), epsilon: f32(epsilon) },
    dispatch: gridStride(l.size),
  };
}

/**
 * x → [y, batch mean, batch variance (unbiased), group statistics (saved for the gradient)]; with
 * `relu`, y = max(normalised + residual, 0) (the residual where given).
 */
function forward(backend: object, { x, gamma, beta, residual }: Record<'x' | 'gamma' | 'beta', tf.TensorInfo> & { residual?: tf.TensorInfo }, { groups, epsilon }: GroupAttrs, relu: boolean): tf.TensorInfo[] {
  const l = layout(x, groups);
  if (residual && String(residual.shape) !== String(x.shape)) throw new Error(`batch-norm + ReLU: residual [${residual.shape}] is not the shape of x [${x.shape}]`);
  const stats = groupStatistics(backend, x, groups);
  const output = relu ? `max(v${residual ? ' + residual[i]' : ''}, 0.0)` : 'v';
  const [y, batchMean, batchVariance] = runProgram(backend, {
    name: relu ? NORMALIZE_RELU : NORMALIZE,
    key: residual ? 'residual' : '',
    inputs: { x, stats, gamma, beta, ...(residual ? { residual } : {}) },
    outputs: { y: x.shape, batchMean: [l.channels], batchVariance: [l.channels] },
    ...elementwise(l, epsilon),
    // Bessel's correction for the moving variance, as PyTorch.
    uniforms: { ...elementwise(l, epsilon).uniforms, unbias: f32(l.rows > 1 ? l.rows / (l.rows - 1) : 1) },
    body: () => `
      ${gridStrideLoop('u.size')} {
        let c = i % u.channels;
        let g = i / (u.rows * u.channels);
        let mean = stats[g * u.channels + c];
        let variance = stats[(u.groups + g) * u.channels + c];
        let v = (x[i] - mean) * inverseSqrt(variance + u.epsilon) * gamma[c] + beta[c];
        y[i] = ${output};
        if (i < u.channels) {
          ${totalOverGroups('stats')}
          batchMean[i] = total.x / f32(u.groups);
          batchVariance[i] = total.y * u.unbias / f32(u.groups);
        }
      }`,
  });
  return [y, batchMean, batchVariance, stats];
}

const forwardKernel = kernelFunc<'x' | 'gamma' | 'beta', GroupAttrs>(['x', 'gamma', 'beta'], (inputs, attrs, backend) => forward(backend, inputs, attrs, false));
const forwardReluKernel = kernelFunc<'x' | 'gamma' | 'beta', GroupAttrs>(['x', 'gamma', 'beta'], (inputs, attrs, backend) => forward(backend, inputs, attrs, true));

/**
 * Σdy and Σdy·x̂ per (group, channel), `[2, G, C]`. With `y` (a ReLU's output), of dy·[y > 0],
 * which comes back too (`masked`).
 */
function gradientSums(backend: object, dy: tf.TensorInfo, x: tf.TensorInfo, stats: tf.TensorInfo, { groups, epsilon }: GroupAttrs, y?: tf.TensorInfo): { sums: tf.TensorInfo; masked?: tf.TensorInfo } {
  const s = reductionSpec(x, groups, rowSplit);
  const { channels } = s.l;
  const split = s.splits > 1;
  const readDy = y ? 'let d = select(0.0, dy[e], y[e] > 0.0); masked[e] = d;' : 'let d = dy[e];';
  // Split rows: each chunk's sums, then one invocation per (group, channel) adds the chunks up.
  const [sums, masked] = runProgram(backend, {
    name: y ? GRAD_STATS_RELU : GRAD_STATS,
    key: `${s.ct}${split ? '|chunks' : ''}`,
    inputs: { dy, x, stats, ...(y ? { y } : {}) },
    outputs: { sums: split ? [s.splits, 2, groups, channels] : [2, groups, channels], ...(y ? { masked: x.shape } : {}) },
    uniforms: { ...s.uniforms, epsilon: f32(epsilon) },
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${reductionPrelude(s.ct)}
      ${chunkRows}
      let cc = min(c, u.channels - 1);
      let mean = stats[g * u.channels + cc];
      let rstd = inverseSqrt(stats[(u.groups + g) * u.channels + cc] + u.epsilon);
      ${reductionPass(0, s.rowLanes, `${readDy} acc0 += vec2<f32>(d, d * (x[e] - mean) * rstd);`, { from: 'r0', to: 'r1' })}
      if (lid.y == 0u && c < u.channels) {
        let at = i32(wid.z) * 2 * u.groups * u.channels + g * u.channels + c;
        sums[at] = total0.x;
        sums[at + u.groups * u.channels] = total0.y;
      }`,
  });
  if (!split) return { sums, masked };
  const [total] = runProgram(backend, {
    name: GRAD_STATS,
    key: 'merge',
    inputs: { sums },
    outputs: { total: [2, groups, channels] },
    uniforms: { size: i32(2 * groups * channels), splits: i32(s.splits) },
    dispatch: gridStride(2 * groups * channels),
    body: () => `
      ${gridStrideLoop('u.size')} {
        var t = 0.0;
        for (var k = 0; k < u.splits; k++) { t += sums[k * u.size + i]; }
        total[i] = t;
      }`,
  });
  disposeIntermediate(backend, sums);
  return { sums: total, masked };
}

/**
 * dy, x, group statistics, γ → [dx, dγ, dβ]; with `y` (the fused ReLU's output), the gradient is
 * taken through the ReLU first, and its dy·[y > 0] comes back as a fourth output with `residual`.
 */
function backward(backend: object, { dy, x, stats, gamma, y }: Record<'dy' | 'x' | 'stats' | 'gamma', tf.TensorInfo> & { y?: tf.TensorInfo }, attrs: GroupAttrs & { residual?: boolean }): tf.TensorInfo[] {
  const l = layout(x, attrs.groups);
  const { sums, masked } = gradientSums(backend, dy, x, stats, attrs, y);
  const grads = runProgram(backend, {
    name: GRAD_PASS,
    inputs: { dy: masked ?? dy, x, stats, sums, gamma },
    outputs: { dx: x.shape, dgamma: [l.channels], dbeta: [l.channels] },
    ...elementwise(l, attrs.epsilon),
    body: () => `
      let inverseRows = 1.0 / f32(u.rows);
      ${gridStrideLoop('u.size')} {
        let c = i % u.channels;
        let g = i / (u.rows * u.channels);
        let gc = g * u.channels + c;
        let rstd = inverseSqrt(stats[u.groups * u.channels + gc] + u.epsilon);
        let xhat = (x[i] - stats[gc]) * rstd;
        let sumDy = sums[gc];
        let sumDyXhat = sums[u.groups * u.channels + gc];
        dx[i] = gamma[c] * rstd * (dy[i] - sumDy * inverseRows - xhat * sumDyXhat * inverseRows);
        if (i < u.channels) {
          ${totalOverGroups('sums')}
          dbeta[i] = total.x;
          dgamma[i] = total.y;
        }
      }`,
  });
  disposeIntermediate(backend, sums);
  if (!masked) return grads;
  if (attrs.residual) return [...grads, masked];
  disposeIntermediate(backend, masked);
  return grads;
}

const gradKernel = kernelFunc<'dy' | 'x' | 'stats' | 'gamma', GroupAttrs>(['dy', 'x', 'stats', 'gamma'], (inputs, attrs, backend) => backward(backend, inputs, attrs));
const gradReluKernel = kernelFunc<'dy' | 'x' | 'stats' | 'gamma' | 'y', GroupAttrs & { residual: boolean }>(['dy', 'x', 'stats', 'gamma', 'y'], (inputs, attrs, backend) =>
  backward(backend, inputs, attrs),
);

const CASES: [label: string, shape: [number, number, number, number], groups: number][] = [
  ['1 group', [4, 5, 3, 6], 1],
  ['4 groups, odd spatial size', [8, 7, 5, 3], 4],
  ['8 groups, 40 channels', [16, 4, 4, 40], 8],
  ['2 groups, 1×1 spatial', [6, 1, 1, 9], 2],
  // Many rows: with the opt-in row split, 4 and 2 (uneven) chunks merged by a second dispatch.
  ['2 groups, 8,192 rows each', [16, 32, 32, 8], 2],
  ['1 group, 9,207 rows', [9, 31, 33, 3], 1],
];

/** Fused ReLU cases: with and without the residual add, one of them with rows split when that is on. */
const RELU_CASES: [label: string, shape: [number, number, number, number], groups: number, residual: boolean][] = [
  ['4 groups, odd spatial size', [8, 7, 5, 3], 4, false],
  ['8 groups, 40 channels, residual', [16, 4, 4, 40], 8, true],
  ['2 groups, 8,192 rows each, residual', [16, 32, 32, 8], 2, true],
];

/** Non-zero mean and a spread of scales, as activations have; γ around 1. */
function caseInputs(shape: [number, number, number, number], seed: number) {
  const c = shape[3];
  return {
    x: normal(shape, seed, 0.5).mul(tf.linspace(0.5, 2, c)) as tf.Tensor4D,
    gamma: normal([c], seed + 1, 1) as tf.Tensor1D,
    beta: normal([c], seed + 2) as tf.Tensor1D,
    dy: normal(shape, seed + 3),
    residual: normal(shape, seed + 4) as tf.Tensor4D,
  };
}

/**
 * Split batch-norm in training mode (src/moco/batchNorm.ts) as 2 dispatches forward and 2
 * backward, its gradient registered tfjs's way (saved x, γ and group statistics).
 */
export const splitBatchNorm: CustomKernel = {
  name: 'SplitBatchNorm',
  kernels: [
    {
      kernelName: FORWARD,
      kernelFunc: forwardKernel,
      gradient: {
        inputsToSave: ['x', 'gamma'],
        outputsToSave: [false, false, false, true],
        gradFunc: (dys, [x, gamma, stats], attrs) => {
          const [dx, dgamma, dbeta] = runKernel(GRAD, { dy: (dys as tf.Tensor[])[0], x, stats, gamma }, attrs);
          return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
        },
      },
    },
    { kernelName: GRAD, kernelFunc: gradKernel },
    {
      kernelName: FORWARD_RELU,
      kernelFunc: forwardReluKernel,
      gradient: {
        inputsToSave: ['x', 'gamma'],
        outputsToSave: [true, false, false, true],
        gradFunc: (dys, [x, gamma, y, stats], attrs) => {
          const residual = (attrs as { residual?: boolean }).residual ?? false;
          const [dx, dgamma, dbeta, dresidual] = runKernel(GRAD_RELU, { dy: (dys as tf.Tensor[])[0], x, stats, gamma, y }, { ...attrs, residual });
          return { x: () => dx, gamma: () => dgamma, beta: () => dbeta, ...(residual ? { residual: () => dresidual } : {}) };
        },
      },
    },
    { kernelName: GRAD_RELU, kernelFunc: gradReluKernel },
  ],
  options: [
    {
      // The statistics and gradient sums with rows split over more workgroups, one merge dispatch
      // more each: opt-in until measured on a GPU (docs/PERFORMANCE.md). Checked by the cases above.
      name: 'BatchNormRowSplit',
      setOn: (on) => {
        rowSplit = on;
      },
    },
    { name: 'SeparateRelu', setOn: (on) => (separateRelu = on), previousDefault: true },
  ],
  overrides: [
    attach(splitBatchNormReluOp, (plain, x, gamma, beta, groups, residual, epsilon = 1e-5): SplitBatchNormResult => {
      if (separateRelu || x.dtype !== 'float32' || (residual && residual.dtype !== 'float32')) return plain(x, gamma, beta, groups, residual, epsilon);
      const [y, batchMean, batchVariance, stats] = runKernel(FORWARD_RELU, { x, gamma, beta, ...(residual ? { residual } : {}) }, { groups, epsilon, residual: !!residual });
      stats.dispose();
      return { y: y as tf.Tensor4D, batchMean: batchMean as tf.Tensor1D, batchVariance: batchVariance as tf.Tensor1D };
    }),
    attach(splitBatchNormOp, (plain, x, gamma, beta, groups, epsilon = 1e-5): SplitBatchNormResult => {
      if (x.dtype !== 'float32') return plain(x, gamma, beta, groups, epsilon);
      const [y, batchMean, batchVariance, stats] = runKernel(FORWARD, { x, gamma, beta }, { groups, epsilon });
      stats.dispose();
      return { y: y as tf.Tensor4D, batchMean: batchMean as tf.Tensor1D, batchVariance: batchVariance as tf.Tensor1D };
    }),
  ],
  cases: [...CASES.flatMap(([label, shape, groups], i) => [
    {
      name: `split batch-norm forward, ${label}`,
      program: NORMALIZE,
      run: () => {
        const { x, gamma, beta } = caseInputs(shape, 200 + 10 * i);
        return { ...splitBatchNormOp(x, gamma, beta, groups) };
      },
    },
    {
      name: `split batch-norm backward, ${label}`,
      program: GRAD_PASS,
      run: () => {
        const { x, gamma, beta, dy } = caseInputs(shape, 200 + 10 * i);
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => splitBatchNormOp(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups).y.mul(dy).sum();
        const [dx, dgamma, dbeta] = tf.grads(f)([x, gamma, beta]);
        return { dx, dgamma, dbeta };
      },
    },
  ]),
  ...RELU_CASES.flatMap(([label, shape, groups, withResidual], i) => [
    {
      name: `split batch-norm + ReLU forward, ${label}`,
      program: NORMALIZE_RELU,
      run: () => {
        const { x, gamma, beta, residual } = caseInputs(shape, 300 + 10 * i);
        return { ...splitBatchNormReluOp(x, gamma, beta, groups, withResidual ? residual : undefined) };
      },
    },
    {
      name: `split batch-norm + ReLU backward, ${label}`,
      program: GRAD_STATS_RELU,
      run: () => {
        const { x, gamma, beta, dy, residual } = caseInputs(shape, 300 + 10 * i);
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r?: tf.Tensor) =>
          splitBatchNormReluOp(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups, r as tf.Tensor4D | undefined).y.mul(dy).sum();
        const [dx, dgamma, dbeta, dresidual] = tf.grads(f)(withResidual ? [x, gamma, beta, residual] : [x, gamma, beta]);
        return { dx, dgamma, dbeta, ...(dresidual ? { dresidual } : {}) };
      },
    },
  ])],
};

