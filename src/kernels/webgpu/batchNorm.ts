import * as tf from '@tensorflow/tfjs';
import { optionIncluded } from '../optIn';
import { gridStride, gridStrideLoop, runProgram, type Uniform } from './program';

/**
 * Split batch-norm in training mode as 2 dispatches forward and 2 backward, instead of tfjs's
 * autodiff of moments/sub/mul/rsqrt (about 25 small kernels forward and as many backward per
 * layer, transposes included). The batch `[N, H, W, C]` is read as `[G, R, C]`: G groups of
 * R = N/G·H·W rows. Per-group statistics are `[2, G, C]`: means, then biased variances.
 *
 * - MocoBatchNormStats: x → stats. One workgroup per (channel tile, group); two passes over the
 *   group's rows (mean, then squared deviations) like tf.moments, so no cancellation.
 * - MocoBatchNormNormalize: x, stats, γ, β → y, and the batch mean and (unbiased) variance per
 *   channel, i.e. the group statistics averaged over groups, for the moving averages.
 * - MocoBatchNormGradStats: dy, x, stats → [2, G, C]: Σdy and Σdy·x̂ per group.
 * - MocoBatchNormGrad: dy, x, stats, those sums, γ → dx, dγ, dβ:
 *   dx = γ·rstd·(dy − Σdy/R − x̂·Σdy·x̂/R), dγ = Σ_g Σdy·x̂, dβ = Σ_g Σdy.
 */

export const BN_STATS_KERNEL = 'MocoBatchNormStats';
export const BN_NORMALIZE_KERNEL = 'MocoBatchNormNormalize';
export const BN_GRAD_STATS_KERNEL = 'MocoBatchNormGradStats';
export const BN_GRAD_KERNEL = 'MocoBatchNormGrad';
/**
 * Opt-in (`useCustomKernels(true, { include: [BN_ROW_SPLIT] })`, bench `--include`): the statistics
 * and gradient sums with rows split over more workgroups, one merge dispatch more each. Not yet
 * measured on a GPU (docs/PERFORMANCE.md).
 */
export const BN_ROW_SPLIT = 'BatchNormRowSplit';

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
 * Pass `p` of a per-(channel, group) reduction over the group's rows (or the row range `rows`), in
 * a workgroup of `ct` channels × `rowLanes` rows: `accumulate` adds to `acc{p}` (vec2) from element
 * index `e`; the workgroup's total for channel `c` is then `total{p}`. Expects `c`, `base` (see
 * `reductionPrelude`).
 */
function reductionPass(p: number, rowLanes: number, ct: number, accumulate: string, rows = { from: '0', to: 'u.rows' }): string {
  return `
    var acc${p} = vec2<f32>(0.0);
    if (c < u.channels) {
      for (var r = ${rows.from} + i32(lid.y); r < ${rows.to}; r += ${rowLanes}) {
        let e = base + r * u.channels;
        ${accumulate}
      }
    }
    partial[lidx] = acc${p};
    workgroupBarrier();
    for (var s = ${rowLanes / 2}u; s > 0u; s = s / 2u) {
      if (lid.y < s) { partial[lidx] += partial[lidx + s * ${ct}u]; }
      workgroupBarrier();
    }
    let total${p} = partial[lid.x];
    workgroupBarrier();`;
}

const reductionPrelude = (ct: number) => `
    let c = i32(wid.x) * ${ct} + i32(lid.x);
    let g = i32(wid.y);
    let base = g * u.rows * u.channels + c;`;

/**
 * Row chunks per (channel tile, group) when rows are split over workgroups: enough workgroups to
 * fill a GPU (about 256), while each invocation still sums at least 64 rows (a merge dispatch
 * costs more than it saves on short reductions). One workgroup per
 * (channel tile, group) leaves a 64-channel layer with 16 workgroups, each summing 32,768 rows
 * (ResNet-18 at batch 256): 40 ms of the H200's 201 ms step went there.
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
    declarations: () => 'var<workgroup> partial : array<vec2<f32>, 256>;',
    uniforms: [
      { name: 'rows', type: 'i32' as const, value: l.rows },
      { name: 'channels', type: 'i32' as const, value: l.channels },
      { name: 'groups', type: 'i32' as const, value: groups },
    ],
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
export const batchNormStatsKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const { groups } = attrs as unknown as GroupAttrs;
  const s = reductionSpec(x, groups, optionIncluded(BN_ROW_SPLIT));
  const { channels } = s.l;
  const split = s.splits > 1;
  const [stats] = runProgram(backend, {
    name: BN_STATS_KERNEL,
    key: `${s.ct}${split ? '|chunks' : ''}`,
    outputs: [{ name: 'stats', shape: split ? [s.splits, 3, groups, channels] : [2, groups, channels] }],
    inputs: [{ name: 'x', tensor: x }],
    uniforms: s.uniforms,
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${reductionPrelude(s.ct)}
      ${chunkRows}
      ${reductionPass(0, s.rowLanes, s.ct, 'acc0.x += x[e];', { from: 'r0', to: 'r1' })}
      let mean = select(0.0, total0.x / f32(n), n > 0);
      ${reductionPass(1, s.rowLanes, s.ct, 'let d = x[e] - mean; acc1.x += d * d;', { from: 'r0', to: 'r1' })}
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
    name: BN_STATS_KERNEL,
    key: 'merge',
    outputs: [{ name: 'merged', shape: [2, groups, channels] }],
    inputs: [{ name: 'chunks', tensor: stats }],
    uniforms: [
      { name: 'groupChannels', type: 'i32', value: groups * channels },
      { name: 'splits', type: 'i32', value: s.splits },
    ],
    workgroupSize: [256, 1, 1],
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
  (backend as tf.KernelBackend).disposeData(stats.dataId);
  return merged;
};

/** `total`: channel `i`'s sums over the groups of both planes of a [2, G, C] buffer. */
const totalOverGroups = (buffer: string) => `
          var total = vec2<f32>(0.0);
          for (var k = 0; k < u.groups; k++) {
            total += vec2<f32>(${buffer}[k * u.channels + i], ${buffer}[(u.groups + k) * u.channels + i]);
          }`;

/** Uniforms and grid of the element-wise passes (normalise, input gradient): one invocation per element of x. */
function elementwise(l: ReturnType<typeof layout>, epsilon: number) {
  return {
    uniforms: [
      { name: 'size', type: 'i32', value: l.size },
      { name: 'rows', type: 'i32', value: l.rows },
      { name: 'channels', type: 'i32', value: l.channels },
      { name: 'groups', type: 'i32', value: l.groups },
      { name: 'epsilon', type: 'f32', value: epsilon },
    ] as Uniform[],
    workgroupSize: [256, 1, 1] as [number, number, number],
    dispatch: gridStride(l.size),
  };
}

export const batchNormNormalizeKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, stats, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
  const { groups, epsilon } = attrs as unknown as GroupAttrs;
  const l = layout(x, groups);
  return runProgram(backend, {
    name: BN_NORMALIZE_KERNEL,
    key: '',
    outputs: [
      { name: 'y', shape: x.shape },
      { name: 'batchMean', shape: [l.channels] },
      { name: 'batchVariance', shape: [l.channels] },
    ],
    inputs: [
      { name: 'x', tensor: x },
      { name: 'stats', tensor: stats },
      { name: 'gamma', tensor: gamma },
      { name: 'beta', tensor: beta },
    ],
    ...elementwise(l, epsilon),
    // Bessel's correction for the moving variance, as PyTorch.
    uniforms: [...elementwise(l, epsilon).uniforms, { name: 'unbias', type: 'f32', value: l.rows > 1 ? l.rows / (l.rows - 1) : 1 }],
    body: () => `
      ${gridStrideLoop('u.size')} {
        let c = i % u.channels;
        let g = i / (u.rows * u.channels);
        let mean = stats[g * u.channels + c];
        let variance = stats[(u.groups + g) * u.channels + c];
        y[i] = (x[i] - mean) * inverseSqrt(variance + u.epsilon) * gamma[c] + beta[c];
        if (i < u.channels) {
          ${totalOverGroups('stats')}
          batchMean[i] = total.x / f32(u.groups);
          batchVariance[i] = total.y * u.unbias / f32(u.groups);
        }
      }`,
  });
};

export const batchNormGradStatsKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, stats } = inputs as Record<string, tf.TensorInfo>;
  const { groups, epsilon } = attrs as unknown as GroupAttrs;
  const s = reductionSpec(x, groups, optionIncluded(BN_ROW_SPLIT));
  const { channels } = s.l;
  const split = s.splits > 1;
  // Split rows: each chunk's sums, then one invocation per (group, channel) adds the chunks up.
  const [sums] = runProgram(backend, {
    name: BN_GRAD_STATS_KERNEL,
    key: `${s.ct}${split ? '|chunks' : ''}`,
    outputs: [{ name: 'sums', shape: split ? [s.splits, 2, groups, channels] : [2, groups, channels] }],
    inputs: [
      { name: 'dy', tensor: dy },
      { name: 'x', tensor: x },
      { name: 'stats', tensor: stats },
    ],
    uniforms: [...s.uniforms, { name: 'epsilon', type: 'f32', value: epsilon }],
    workgroupSize: s.workgroupSize,
    dispatch: s.dispatch,
    declarations: s.declarations,
    body: () => `
      ${reductionPrelude(s.ct)}
      ${chunkRows}
      let cc = min(c, u.channels - 1);
      let mean = stats[g * u.channels + cc];
      let rstd = inverseSqrt(stats[(u.groups + g) * u.channels + cc] + u.epsilon);
      ${reductionPass(0, s.rowLanes, s.ct, 'let d = dy[e]; acc0 += vec2<f32>(d, d * (x[e] - mean) * rstd);', { from: 'r0', to: 'r1' })}
      if (lid.y == 0u && c < u.channels) {
        let at = i32(wid.z) * 2 * u.groups * u.channels + g * u.channels + c;
        sums[at] = total0.x;
        sums[at + u.groups * u.channels] = total0.y;
      }`,
  });
  if (!split) return sums;
  const [total] = runProgram(backend, {
    name: BN_GRAD_STATS_KERNEL,
    key: 'merge',
    outputs: [{ name: 'total', shape: [2, groups, channels] }],
    inputs: [{ name: 'sums', tensor: sums }],
    uniforms: [
      { name: 'size', type: 'i32', value: 2 * groups * channels },
      { name: 'splits', type: 'i32', value: s.splits },
    ],
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(2 * groups * channels),
    body: () => `
      ${gridStrideLoop('u.size')} {
        var t = 0.0;
        for (var k = 0; k < u.splits; k++) { t += sums[k * u.size + i]; }
        total[i] = t;
      }`,
  });
  (backend as tf.KernelBackend).disposeData(sums.dataId);
  return total;
};

export const batchNormGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, stats, sums, gamma } = inputs as Record<string, tf.TensorInfo>;
  const { groups, epsilon } = attrs as unknown as GroupAttrs;
  const l = layout(x, groups);
  return runProgram(backend, {
    name: BN_GRAD_KERNEL,
    key: '',
    outputs: [
      { name: 'dx', shape: x.shape },
      { name: 'dgamma', shape: [l.channels] },
      { name: 'dbeta', shape: [l.channels] },
    ],
    inputs: [
      { name: 'dy', tensor: dy },
      { name: 'x', tensor: x },
      { name: 'stats', tensor: stats },
      { name: 'sums', tensor: sums },
      { name: 'gamma', tensor: gamma },
    ],
    ...elementwise(l, epsilon),
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
};

export interface FusedBatchNormResult {
  y: tf.Tensor4D;
  batchMean: tf.Tensor1D;
  batchVariance: tf.Tensor1D;
}

/** Split batch-norm (training mode) on the fused kernels, differentiable through tf.customGrad. */
export function splitBatchNormWebGpu(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, epsilon: number): FusedBatchNormResult {
  const attrs = { groups, epsilon } as unknown as tf.NamedAttrMap;
  const run = (name: string, inputs: tf.NamedTensorMap) => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  let batchStats: tf.Tensor[] = [];
  const forward = tf.customGrad((...args) => {
    const [xs, g, b, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const stats = run(BN_STATS_KERNEL, { x: xs }) as tf.Tensor;
    const [y, batchMean, batchVariance] = run(BN_NORMALIZE_KERNEL, { x: xs, stats, gamma: g, beta: b }) as tf.Tensor[];
    // The forward pass runs in a tidy of tfjs's: keep the batch statistics past it.
    batchStats = [tf.keep(batchMean), tf.keep(batchVariance)];
    save([xs, g, stats]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sstats] = saved;
        const sums = run(BN_GRAD_STATS_KERNEL, { dy, x: sx, stats: sstats }) as tf.Tensor;
        const [dx, dgamma, dbeta] = run(BN_GRAD_KERNEL, { dy, x: sx, stats: sstats, sums, gamma: sg }) as tf.Tensor[];
        sums.dispose();
        return [dx, dgamma, dbeta];
      },
    };
  });
  const y = forward(x, gamma, beta) as tf.Tensor4D;
  // Hand the statistics to the caller's scope like any op result (clone shares the buffer: no dispatch).
  const [batchMean, batchVariance] = batchStats.map((t) => {
    const c = t.clone();
    t.dispose();
    return c as tf.Tensor1D;
  });
  return { y, batchMean, batchVariance };
}
