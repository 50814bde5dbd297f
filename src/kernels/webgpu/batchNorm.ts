import * as tf from '@tensorflow/tfjs';
import {
  BN_EPSILON,
  BN_MOMENTUM,
  splitBatchNorm as splitBatchNormOp,
  splitBatchNormRelu as splitBatchNormReluOp,
  updateMovingStatistics,
  type MovingVariables,
  type SplitBatchNormResult,
} from '../../moco/batchNorm';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { disposeIntermediate, f32, gridStride, gridStrideLoop, i32, ownsBuffer, runProgram, storageBufferLimit, workgroupReduction, type Uniform } from './program';

/*
 * The batch `[N, H, W, C]` is read as `[G, R, C]`: G groups of R = N/G·H·W rows. Per-group
 * statistics are `[2, G, C]`: means, then biased variances. The programs:
 * - MocoBatchNormStats: x → stats. One workgroup per (channel tile, group); two passes over the
 *   group's rows (mean, then squared deviations) like tf.moments, so no cancellation.
 * - MocoBatchNormNormalize: x, stats, γ, β → y, and the batch mean and (unbiased) variance per
 *   channel, i.e. the group statistics averaged over groups, for the moving averages; handed the
 *   layer's moving statistics (read-write, in place), it updates them instead (moving ← 0.9·moving +
 *   0.1·batch), so that they cost no dispatch of their own.
 * - MocoBatchNormGradStats: dy, x, stats → [2, G, C]: Σdy and Σdy·x̂ per group.
 * - MocoBatchNormGrad: dy, x, stats, those sums, γ → dx, dγ, dβ:
 *   dx = γ·rstd·(dy − Σdy/R − x̂·Σdy·x̂/R), dγ = Σ_g Σdy·x̂, dβ = Σ_g Σdy.
 * With the ReLU (and residual add) fused, y = max(normalised + residual, 0): the normalising pass
 * adds and rectifies, and the gradient sums take dy·[y > 0] (written out as they go: the residual's
 * gradient, and the input of the gradient pass), so that neither the add nor the ReLU and its
 * gradient costs a dispatch of its own.
 *
 * One-dispatch batch-norm (the default for small layers; `BatchNormTwoPass` turns it off): one
 * workgroup per channel tile walks every group, statistics then normalisation (MocoBatchNormOnePass),
 * and sums then input gradient (MocoBatchNormGradOnePass), so that a batch-norm is 1 dispatch forward
 * and 1 back instead of 2 and 2. It gives up the workgroups that the groups give the two-pass kernels,
 * which is why it is for small layers only (`ONE_DISPATCH_MAX_ELEMENTS`, a guess to tune on a GPU).
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
const ONE_PASS = 'MocoBatchNormOnePass';
const GRAD_ONE_PASS = 'MocoBatchNormGradOnePass';

/** ReLU (and the residual add) left to their own kernels (`--variants custom,custom+SeparateRelu`): the A/B of the fusion. */
let separateRelu = false;

/** Rows split over more workgroups (opt-in `BatchNormRowSplit`, set by the switch). */
let rowSplit = false;

/**
 * The moving statistics updated after the pass, all layers in a few dispatches of the moving
 * averages (`--variants custom,custom+SeparateMovingStatistics`): the A/B of their update in the
 * normalising pass.
 */
let separateMoving = false;

/**
 * Small layers' batch-norm in one dispatch each way (the default; `--variants custom,custom+BatchNormTwoPass`
 * is the previous way, every layer in two: the A/B of the size threshold).
 */
let oneDispatch = true;

/**
 * Layers of at most this many elements (rows × channels, N·H·W·C) take the one-dispatch batch-norm
 * (unless `BatchNormTwoPass`): 2^21 is ResNet-8's largest at batch 128 (32×32×128 rows × 16
 * channels), host-bound on the H200, while ResNet-18 at batch 256 keeps the two-pass kernels but in
 * its last stage (4,096 rows × 512 channels). A guess, not a measurement: no GPU has run the
 * one-dispatch kernels yet (docs/PERFORMANCE.md, 2026-11-29 session 7). With a channel per workgroup where there are ≤ 127 channels (so that the
 * channels alone give the workgroups), an invocation of the largest such layer walks 512 rows per
 * pass (2^21 / 16 channels / 256 lanes), against 1,024 for the two-pass statistics at 8 groups: about
 * the GPU time of the statistics kernel it replaces. Where that no longer holds (more rows, fewer
 * channels) the saved dispatch (~0.1 ms of host time) is worth less than the lost parallelism. To be
 * tuned from the GPU A/B (`scripts/gpu-perf.sh`, GPU time per kernel).
 */
export const ONE_DISPATCH_MAX_ELEMENTS = 2 ** 21;

interface GroupAttrs {
  groups: number;
  epsilon: number;
}

/** The forward kernels' attributes: with `momentum`, the weight of the batch in the moving statistics' update. */
interface ForwardAttrs extends GroupAttrs {
  momentum?: number;
  residual?: boolean;
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

/** Uniforms and grid of the two-pass input gradient: one invocation per element of x. */
function elementwise(l: ReturnType<typeof layout>, epsilon: number) {
  return {
    uniforms: { size: i32(l.size), rows: i32(l.rows), channels: i32(l.channels), groups: i32(l.groups), epsilon: f32(epsilon) },
    dispatch: gridStride(l.size),
  };
}

type ForwardInputs = Record<'x' | 'gamma' | 'beta', tf.TensorInfo> & Partial<Record<'residual' | 'movingMean' | 'movingVariance', tf.TensorInfo>>;

/**
 * WGSL for the invocation of channel `c`, `total` holding the groups' sums of means and biased
 * variances: the moving statistics' update where they are bound (in place), else the batch
 * statistics as outputs. The update is the moving averages' own arithmetic (target·a + source·b).
 */
function batchStatisticsOut(moving: boolean, c: string): string {
  const mean = 'total.x / f32(u.groups)';
  const variance = 'total.y * u.unbias / f32(u.groups)';
  return moving
    ? `movingMean[${c}] = movingMean[${c}] * u.keep + (${mean}) * u.momentum;
          movingVariance[${c}] = movingVariance[${c}] * u.keep + (${variance}) * u.momentum;`
    : `batchMean[${c}] = ${mean};
          batchVariance[${c}] = ${variance};`;
}

/** What the forward passes bind besides x and the group statistics, and their uniforms. */
function forwardBindings(inputs: ForwardInputs, l: ReturnType<typeof layout>, { epsilon, momentum = BN_MOMENTUM }: ForwardAttrs) {
  const { x, gamma, beta, residual, movingMean, movingVariance } = inputs;
  if (residual && !tf.util.arraysEqual(residual.shape, x.shape)) throw new Error(`batch-norm + ReLU: residual [${residual.shape}] is not the shape of x [${x.shape}]`);
  const moving = movingMean && movingVariance ? { movingMean, movingVariance } : undefined;
  const uniforms: Record<string, Uniform> = {
    rows: i32(l.rows),
    channels: i32(l.channels),
    groups: i32(l.groups),
    epsilon: f32(epsilon),
    // Bessel's correction for the moving variance, as PyTorch.
    unbias: f32(l.rows > 1 ? l.rows / (l.rows - 1) : 1),
    ...(moving ? { keep: f32(1 - momentum), momentum: f32(momentum) } : {}),
  };
  return {
    key: `${residual ? 'residual' : ''}${moving ? '|moving' : ''}`,
    inputs: { x, gamma, beta, ...(residual ? { residual } : {}) },
    inPlace: moving,
    batchOutputs: (moving ? {} : { batchMean: [l.channels], batchVariance: [l.channels] }) as Record<string, number[]>,
    uniforms,
    output: (relu: boolean, i: string) => (relu ? `max(v${residual ? ` + residual[${i}]` : ''}, 0.0)` : 'v'),
  };
}

/**
 * x → [y, group statistics (saved for the gradient), batch mean, batch variance (unbiased)]; with
 * `relu`, y = max(normalised + residual, 0) (the residual where given). Given the moving
 * statistics, the pass updates them in place and returns [y, group statistics].
 */
function forward(backend: object, inputs: ForwardInputs, attrs: ForwardAttrs, relu: boolean): tf.TensorInfo[] {
  const { x } = inputs;
  const l = layout(x, attrs.groups);
  if (onePass(l)) return forwardOnePass(backend, inputs, attrs, relu);
  const bind = forwardBindings(inputs, l, attrs);
  const stats = groupStatistics(backend, x, attrs.groups);
  const [y, ...batch] = runProgram(backend, {
    name: relu ? NORMALIZE_RELU : NORMALIZE,
    key: bind.key,
    inputs: { ...bind.inputs, stats },
    outputs: { y: x.shape, ...bind.batchOutputs },
    inPlace: bind.inPlace,
    uniforms: { size: i32(l.size), ...bind.uniforms },
    dispatch: gridStride(l.size),
    body: () => `
      ${gridStrideLoop('u.size')} {
        let c = i % u.channels;
        let g = i / (u.rows * u.channels);
        let mean = stats[g * u.channels + c];
        let variance = stats[(u.groups + g) * u.channels + c];
        let v = (x[i] - mean) * inverseSqrt(variance + u.epsilon) * gamma[c] + beta[c];
        y[i] = ${bind.output(relu, 'i')};
        if (i < u.channels) {
          ${totalOverGroups('stats')}
          ${batchStatisticsOut(!!bind.inPlace, 'i')}
        }
      }`,
  });
  return [y, stats, ...batch];
}

/** Whether the layer takes the one-dispatch kernels. */
function onePass(l: ReturnType<typeof layout>): boolean {
  return oneDispatch && l.size <= ONE_DISPATCH_MAX_ELEMENTS;
}

/**
 * The one-dispatch kernels' workgroups: a tile of channels × row lanes each, one channel per
 * workgroup up to 127 channels (the channels alone give the workgroups), at most 32 (coalesced).
 */
function onePassSpec(l: ReturnType<typeof layout>) {
  const ct = Math.min(32, 2 ** Math.max(0, Math.floor(Math.log2(l.channels / 64))));
  const rowLanes = 256 / ct;
  return {
    ct,
    rowLanes,
    workgroupSize: [ct, rowLanes, 1] as [number, number, number],
    dispatch: [Math.ceil(l.channels / ct), 1, 1] as [number, number, number],
    declarations: () => workgroupReduction({ type: 'vec2<f32>', lanes: rowLanes, stride: ct }),
    /** Channel `c` of this invocation, and `cc`, a valid channel to read for invocations past the last. */
    prelude: () => `
      let c = i32(wid.x) * ${ct} + i32(lid.x);
      let cc = min(c, u.channels - 1);`,
  };
}

/** Statistics and normalisation in one dispatch: each workgroup walks its channels' rows, group by group (the two-pass kernels' sums, over more row lanes). */
function forwardOnePass(backend: object, inputs: ForwardInputs, attrs: ForwardAttrs, relu: boolean): tf.TensorInfo[] {
  const { x } = inputs;
  const l = layout(x, attrs.groups);
  const bind = forwardBindings(inputs, l, attrs);
  const s = onePassSpec(l);
  const [y, stats, ...batch] = runProgram(backend, {
    name: ONE_PASS,
    key: `${s.ct}|${relu ? 'relu' : ''}|${bind.key}`,
    inputs: bind.inputs,
    outputs: { y: x.shape, stats: [2, l.groups, l.channels], ...bind.batchOutputs },
    inPlace: bind.inPlace,
    uniforms: bind.uniforms,
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${s.prelude()}
      var total = vec2<f32>(0.0);
      for (var g = 0; g < u.groups; g++) {
        let base = g * u.rows * u.channels + c;
        ${reductionPass(0, s.rowLanes, 'acc0.x += x[e];')}
        let mean = total0.x / f32(u.rows);
        ${reductionPass(1, s.rowLanes, 'let d = x[e] - mean; acc1.x += d * d;')}
        let variance = total1.x / f32(u.rows);
        if (c < u.channels) {
          for (var r = i32(lid.y); r < u.rows; r += ${s.rowLanes}) {
            let i = base + r * u.channels;
            let v = (x[i] - mean) * inverseSqrt(variance + u.epsilon) * gamma[c] + beta[c];
            y[i] = ${bind.output(relu, 'i')};
          }
          if (lid.y == 0u) {
            stats[g * u.channels + c] = mean;
            stats[(u.groups + g) * u.channels + c] = variance;
          }
        }
        total += vec2<f32>(mean, variance);
      }
      if (lid.y == 0u && c < u.channels) {
          ${batchStatisticsOut(!!bind.inPlace, 'c')}
      }`,
  });
  return [y, stats, ...batch];
}

const forwardKernel = kernelFunc<'x' | 'gamma' | 'beta', ForwardAttrs>(['x', 'gamma', 'beta'], (inputs, attrs, backend) => forward(backend, inputs, attrs, false));
const forwardReluKernel = kernelFunc<'x' | 'gamma' | 'beta', ForwardAttrs>(['x', 'gamma', 'beta'], (inputs, attrs, backend) => forward(backend, inputs, attrs, true));

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

type BackwardInputs = Record<'dy' | 'x' | 'stats' | 'gamma', tf.TensorInfo> & { y?: tf.TensorInfo };

/**
 * dy, x, group statistics, γ → [dx, dγ, dβ]; with `y` (the fused ReLU's output), the gradient is
 * taken through the ReLU first, and its dy·[y > 0] comes back as a fourth output with `residual`.
 */
function backward(backend: object, inputs: BackwardInputs, attrs: GroupAttrs & { residual?: boolean }): tf.TensorInfo[] {
  const { dy, x, stats, gamma, y } = inputs;
  const l = layout(x, attrs.groups);
  // dy, x, stats, γ, y → dx, dγ, dβ, dy·[y > 0]: 9 buffers with the residual, more than WebGPU's default 8.
  const buffers = 7 + (y ? 1 : 0) + (y && attrs.residual ? 1 : 0);
  if (onePass(l) && buffers <= storageBufferLimit(backend)) return backwardOnePass(backend, inputs, attrs);
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

/**
 * Sums and input gradient in one dispatch: each workgroup walks its channels' rows group by group,
 * Σdy and Σdy·x̂ first, then dx (the two-pass kernels' arithmetic, the sums over more row lanes).
 */
function backwardOnePass(backend: object, { dy, x, stats, gamma, y }: BackwardInputs, attrs: GroupAttrs & { residual?: boolean }): tf.TensorInfo[] {
  const l = layout(x, attrs.groups);
  const s = onePassSpec(l);
  const masked = !!y && !!attrs.residual;
  const readDy = (i: string) => (y ? `select(0.0, dy[${i}], y[${i}] > 0.0)` : `dy[${i}]`);
  return runProgram(backend, {
    name: GRAD_ONE_PASS,
    key: `${s.ct}|${y ? 'relu' : ''}|${masked ? 'masked' : ''}`,
    inputs: { dy, x, stats, gamma, ...(y ? { y } : {}) },
    outputs: { dx: x.shape, dgamma: [l.channels], dbeta: [l.channels], ...(masked ? { masked: x.shape } : {}) },
    uniforms: { rows: i32(l.rows), channels: i32(l.channels), groups: i32(l.groups), epsilon: f32(attrs.epsilon) },
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${s.prelude()}
      let inverseRows = 1.0 / f32(u.rows);
      var total = vec2<f32>(0.0);
      for (var g = 0; g < u.groups; g++) {
        let base = g * u.rows * u.channels + c;
        let mean = stats[g * u.channels + cc];
        let rstd = inverseSqrt(stats[(u.groups + g) * u.channels + cc] + u.epsilon);
        ${reductionPass(0, s.rowLanes, `let d = ${readDy('e')};${masked ? ' masked[e] = d;' : ''} acc0 += vec2<f32>(d, d * (x[e] - mean) * rstd);`)}
        if (c < u.channels) {
          for (var r = i32(lid.y); r < u.rows; r += ${s.rowLanes}) {
            let i = base + r * u.channels;
            let xhat = (x[i] - mean) * rstd;
            dx[i] = gamma[c] * rstd * (${readDy('i')} - total0.x * inverseRows - xhat * total0.y * inverseRows);
          }
        }
        total += total0;
      }
      if (lid.y == 0u && c < u.channels) {
        dbeta[c] = total.x;
        dgamma[c] = total.y;
      }`,
  });
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

/**
 * The one-dispatch kernels' cases (both ways, with and without the ReLU and residual, the moving
 * statistics updated in the pass): a channel per workgroup (3, 40 channels), 2 channels per
 * workgroup with a partial last tile (130), rows not a multiple of the row lanes.
 */
const ONE_PASS_CASES: [label: string, shape: [number, number, number, number], groups: number, relu: 'none' | 'relu' | 'residual'][] = [
  ['4 groups, odd spatial size', [8, 7, 5, 3], 4, 'none'],
  ['8 groups, 40 channels, ReLU', [16, 4, 4, 40], 8, 'relu'],
  ['2 groups, 130 channels, residual', [4, 3, 5, 130], 2, 'residual'],
  ['2 groups, 8,192 rows each, residual', [16, 32, 32, 8], 2, 'residual'],
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

/** Runs a case with the one-dispatch kernels on or off, whatever the switch says, so that each path has its own cases. */
function withOneDispatch(on: boolean, run: () => Record<string, tf.Tensor>): () => Record<string, tf.Tensor> {
  return () => {
    const before = oneDispatch;
    oneDispatch = on;
    try {
      return run();
    } finally {
      oneDispatch = before;
    }
  };
}

/** The result's tensors (the batch statistics are absent where the moving statistics were updated in the pass). */
function tensors(result: object): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(result).filter((e): e is [string, tf.Tensor] => e[1] instanceof tf.Tensor));
}

/**
 * A training forward pass handed a layer's moving statistics (variables that own their buffers, as
 * the encoders' do after their first step), as the encoder runs it: updated in the pass, or after
 * it from the batch statistics. Returns y and the updated moving statistics.
 */
function forwardWithMoving(shape: [number, number, number, number], groups: number, seed: number, relu: 'none' | 'relu' | 'residual'): Record<string, tf.Tensor> {
  const { x, gamma, beta, residual } = caseInputs(shape, seed);
  const owned = (init: tf.Tensor) => {
    const v = tf.variable(init, false);
    init.dispose();
    return v;
  };
  const movingMean = owned(normal([shape[3]], seed + 5));
  const movingVariance = owned(normal([shape[3]], seed + 6).abs().add(0.5));
  const moving = { movingMean, movingVariance };
  const { y, batchMean, batchVariance } =
    relu === 'none'
      ? splitBatchNormOp(x, gamma, beta, groups, BN_EPSILON, moving)
      : splitBatchNormReluOp(x, gamma, beta, groups, relu === 'residual' ? residual : undefined, BN_EPSILON, moving);
  if (batchMean && batchVariance) updateMovingStatistics([{ movingMean, movingVariance, batchMean, batchVariance }]);
  const out = { y, movingMean: movingMean.clone(), movingVariance: movingVariance.clone() };
  tf.dispose([movingMean, movingVariance]);
  return out;
}

/** dx, dγ, dβ (and the residual's gradient) of Σ dy·y, y the fused batch-norm's output. */
function gradients(shape: [number, number, number, number], groups: number, seed: number, relu: 'none' | 'relu' | 'residual'): Record<string, tf.Tensor> {
  const { x, gamma, beta, dy, residual } = caseInputs(shape, seed);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r?: tf.Tensor) =>
    (relu === 'none'
      ? splitBatchNormOp(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups)
      : splitBatchNormReluOp(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups, r as tf.Tensor4D | undefined)
    ).y
      .mul(dy)
      .sum();
  const [dx, dgamma, dbeta, dresidual] = tf.grads(f)(relu === 'residual' ? [x, gamma, beta, residual] : [x, gamma, beta]);
  return { dx, dgamma, dbeta, ...(dresidual ? { dresidual } : {}) };
}

/**
 * The layer's moving statistics for the normalising pass to update in place, or none: switched
 * off, or sharing their buffers with another tensor (the key encoder's right after it copied the
 * query encoder's), in which case they follow after the pass.
 */
function movingInputs(moving: MovingVariables | undefined): Partial<Record<'movingMean' | 'movingVariance', tf.Variable>> {
  if (!moving || separateMoving) return {};
  const backend = tf.backend();
  if (!ownsBuffer(backend, moving.movingMean) || !ownsBuffer(backend, moving.movingVariance)) return {};
  return { movingMean: moving.movingMean, movingVariance: moving.movingVariance };
}

/** The forward kernels' outputs as the operation returns them (the group statistics only for the gradient). */
function result([y, stats, batchMean, batchVariance]: tf.Tensor[]): SplitBatchNormResult {
  stats.dispose();
  return { y: y as tf.Tensor4D, batchMean: batchMean as tf.Tensor1D | undefined, batchVariance: batchVariance as tf.Tensor1D | undefined };
}

/**
 * Split batch-norm in training mode (src/moco/batchNorm.ts) as 2 dispatches forward and 2
 * backward (1 and 1 for small layers, unless `BatchNormTwoPass`), the moving statistics updated
 * in the forward pass, its gradient registered tfjs's way (saved x, γ and group statistics).
 */
export const splitBatchNorm: CustomKernel = {
  name: 'SplitBatchNorm',
  kernels: [
    {
      kernelName: FORWARD,
      kernelFunc: forwardKernel,
      gradient: {
        inputsToSave: ['x', 'gamma'],
        outputsToSave: [false, true],
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
        outputsToSave: [true, true],
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
    // Every layer in two dispatches each way, as before small layers took one (the default by
    // ONE_DISPATCH_MAX_ELEMENTS, a guess): the A/B that tunes the threshold (docs/PERFORMANCE.md).
    { name: 'BatchNormTwoPass', setOn: (on) => (oneDispatch = !on), previousDefault: true },
    { name: 'SeparateRelu', setOn: (on) => (separateRelu = on), previousDefault: true },
    { name: 'SeparateMovingStatistics', setOn: (on) => (separateMoving = on), previousDefault: true },
  ],
  overrides: [
    attach(splitBatchNormReluOp, (plain, x, gamma, beta, groups, residual, epsilon = BN_EPSILON, moving): SplitBatchNormResult => {
      if (separateRelu || x.dtype !== 'float32' || (residual && residual.dtype !== 'float32')) return plain(x, gamma, beta, groups, residual, epsilon, moving);
      const inputs = { x, gamma, beta, ...(residual ? { residual } : {}), ...movingInputs(moving) };
      return result(runKernel(FORWARD_RELU, inputs, { groups, epsilon, residual: !!residual, momentum: BN_MOMENTUM }));
    }),
    attach(splitBatchNormOp, (plain, x, gamma, beta, groups, epsilon = BN_EPSILON, moving): SplitBatchNormResult => {
      if (x.dtype !== 'float32') return plain(x, gamma, beta, groups, epsilon, moving);
      return result(runKernel(FORWARD, { x, gamma, beta, ...movingInputs(moving) }, { groups, epsilon, momentum: BN_MOMENTUM }));
    }),
  ],
  cases: [
    ...CASES.flatMap(([label, shape, groups], i) => [
      {
        name: `split batch-norm forward, ${label}`,
        program: NORMALIZE,
        run: withOneDispatch(false, () => {
          const { x, gamma, beta } = caseInputs(shape, 200 + 10 * i);
          return tensors(splitBatchNormOp(x, gamma, beta, groups));
        }),
      },
      {
        name: `split batch-norm backward, ${label}`,
        program: GRAD_PASS,
        run: withOneDispatch(false, () => gradients(shape, groups, 200 + 10 * i, 'none')),
      },
    ]),
    ...RELU_CASES.flatMap(([label, shape, groups, withResidual], i) => [
      {
        name: `split batch-norm + ReLU forward, ${label}`,
        program: NORMALIZE_RELU,
        run: withOneDispatch(false, () => {
          const { x, gamma, beta, residual } = caseInputs(shape, 300 + 10 * i);
          return tensors(splitBatchNormReluOp(x, gamma, beta, groups, withResidual ? residual : undefined));
        }),
      },
      {
        name: `split batch-norm + ReLU backward, ${label}`,
        program: GRAD_STATS_RELU,
        run: withOneDispatch(false, () => gradients(shape, groups, 300 + 10 * i, withResidual ? 'residual' : 'relu')),
      },
    ]),
    // The moving statistics updated by the normalising pass (in place), against the batch statistics' moving average after it.
    ...([
      ['8 groups, 40 channels', [16, 4, 4, 40], 8, 'none', NORMALIZE],
      ['2 groups, 8,192 rows each, residual', [16, 32, 32, 8], 2, 'residual', NORMALIZE_RELU],
    ] as const).map(([label, shape, groups, relu, program], i) => ({
      name: `split batch-norm, moving statistics in the pass, ${label}`,
      program,
      run: withOneDispatch(false, () => forwardWithMoving([...shape], groups, 400 + 10 * i, relu)),
    })),
    ...ONE_PASS_CASES.flatMap(([label, shape, groups, relu], i) => [
      {
        name: `one-dispatch batch-norm forward, moving statistics, ${label}`,
        program: ONE_PASS,
        run: withOneDispatch(true, () => forwardWithMoving(shape, groups, 500 + 10 * i, relu)),
      },
      {
        name: `one-dispatch batch-norm forward, batch statistics, ${label}`,
        program: ONE_PASS,
        run: withOneDispatch(true, () => {
          const { x, gamma, beta, residual } = caseInputs(shape, 500 + 10 * i);
          return tensors(relu === 'none' ? splitBatchNormOp(x, gamma, beta, groups) : splitBatchNormReluOp(x, gamma, beta, groups, relu === 'residual' ? residual : undefined));
        }),
      },
      {
        name: `one-dispatch batch-norm backward, ${label}`,
        program: GRAD_ONE_PASS,
        run: withOneDispatch(true, () => gradients(shape, groups, 500 + 10 * i, relu)),
      },
    ]),
  ],
};
