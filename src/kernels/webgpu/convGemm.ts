import * as tf from '@tensorflow/tfjs';
import { normal, runKernel, type KernelCase } from '../declaration';
export type { ConvGradAttrs } from '../declaration';
import { disposeIntermediate, gridStride, gridStrideLoop, i32, runProgram, type Uniform } from './program';

/**
 * Convolution gradients as implicit GEMMs, shared by conv2dBackpropFilter.ts and conv2dBackpropInput.ts:
 * an implicit GEMM, C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are gathered from tensors by
 * WGSL functions (`loadA(m, k)`, `loadB(k, n)`, 0 outside) and never materialised: the convolution
 * gradients are such products over im2col views. C is written row-major ([M, N]), which is tfjs's
 * layout of both gradients.
 *
 * Each workgroup computes a (4·WY) × (4·WX) tile of C, 4×4 per invocation, staging 16-deep slices
 * of A and B in workgroup memory (as vec4 rows: one vec4 of each per 16 multiply-adds). Loads run
 * along whichever of the two indices is contiguous in memory. When the reduction is long against
 * the output (the weight gradient: k = batch × pixels), it is split over about TARGET_WORKGROUPS
 * workgroups that write partial products, and a second dispatch sums them (`splitsFor`).
 */

const TK = 16;
/** The second dispatch of a split reduction. */
export const SPLIT_K_SUM = 'MocoSplitKSum';
/** Workgroups to aim for when splitting the reduction (docs/PERFORMANCE.md). */
const TARGET_WORKGROUPS = 512;
/** Least reduction length per workgroup when split. */
const MIN_K_PER_SPLIT = 256;
/**
 * Longest reduction left unsplit. Below it a tile's serial loop (K × 16 multiply-adds per
 * invocation, about 65,000 here) costs about what the summing dispatch it saves costs the host
 * (~0.1 ms a dispatch on the H200, docs/PERFORMANCE.md): small batches and small late layers.
 */
export const UNSPLIT_MAX_K = 4096;

/** Split wherever the tiles leave workgroups to fill, short reductions too (`AlwaysSplitK`, the previous rule: the A/B of the threshold). */
let alwaysSplit = false;

export function setAlwaysSplitK(on: boolean): void {
  alwaysSplit = on;
}

/**
 * The number of slices the reduction of K is cut into, for `tiles` output tiles: enough for about
 * TARGET_WORKGROUPS workgroups, each slice at least MIN_K_PER_SPLIT long; none where the output
 * alone fills the GPU, nor where K ≤ UNSPLIT_MAX_K (unless `always`).
 */
export function splitsFor(K: number, tiles: number, always = alwaysSplit): number {
  if (!always && K <= UNSPLIT_MAX_K) return 1;
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(K / MIN_K_PER_SPLIT)));
}

export interface GemmSpec {
  name: string;
  M: number;
  N: number;
  K: number;
  /** Split the reduction when the output has too few tiles to fill the GPU. */
  splitK: boolean;
  outputShape: number[];
  inputs: Record<string, tf.TensorInfo>;
  uniforms: Record<string, Uniform>;
  /** WGSL defining `fn loadA(m : i32, k : i32) -> f32` and `fn loadB(k : i32, n : i32) -> f32` (in range: m < M, k < K, n < N). */
  loaders: string;
  /** Which index is contiguous in memory, for coalesced loads. */
  aContiguous: 'm' | 'k';
  bContiguous: 'k' | 'n';
}

function pow2AtLeast(n: number, max: number): number {
  let p = 1;
  while (p < n && p < max) p *= 2;
  return p;
}

/** `tile[kk][x]` ← `load` for every (kk, x) of a TK × width slice, loads along `along`. */
function stage(tile: string, width: number, along: 'k' | 'other', load: (x: string, kk: string) => { cond: string; value: string }): string {
  const [kk, x] = along === 'k' ? [`l % ${TK}`, `l / ${TK}`] : [`l / ${width}`, `l % ${width}`];
  return `
        for (var l = i32(lidx); l < ${TK * width}; l += threads) {
          let kk = ${kk};
          let x = ${x};
          let e = kk * ${width} + x;
          var v = 0.0;
          if (${load('x', 'kk').cond}) { v = ${load('x', 'kk').value}; }
          ${tile}[e / 4][e % 4] = v;
        }`;
}

export function runGemm(backend: object, spec: GemmSpec): tf.TensorInfo {
  const { M, N, K } = spec;
  const wx = pow2AtLeast(Math.ceil(N / 4), 16);
  const wy = pow2AtLeast(Math.ceil(M / 4), 16);
  const tm = 4 * wy;
  const tn = 4 * wx;
  const tiles = Math.ceil(M / tm) * Math.ceil(N / tn);
  let splits = spec.splitK ? splitsFor(K, tiles) : 1;
  const kPerSplit = Math.ceil(Math.ceil(K / splits) / TK) * TK;
  splits = Math.ceil(K / kPerSplit);

  const [partial] = runProgram(backend, {
    name: spec.name,
    key: `${wx},${wy},${spec.aContiguous},${spec.bContiguous}`,
    inputs: spec.inputs,
    outputs: { result: splits === 1 ? spec.outputShape : [splits, M, N] },
    uniforms: { M: i32(M), N: i32(N), K: i32(K), kPerSplit: i32(kPerSplit), ...spec.uniforms },
    workgroupSize: [wx, wy, 1],
    dispatch: [Math.ceil(N / tn), Math.ceil(M / tm), splits],
    declarations: () => `
      var<workgroup> tileA : array<vec4<f32>, ${(TK * tm) / 4}>;
      var<workgroup> tileB : array<vec4<f32>, ${(TK * tn) / 4}>;
      ${spec.loaders}`,
    body: () => `
      let threads = ${wx * wy};
      let m0 = i32(wid.y) * ${tm};
      let n0 = i32(wid.x) * ${tn};
      let kStart = i32(wid.z) * u.kPerSplit;
      let kEnd = min(kStart + u.kPerSplit, u.K);
      var acc : array<vec4<f32>, 4>;
      for (var k0 = kStart; k0 < kEnd; k0 += ${TK}) {
        ${stage('tileA', tm, spec.aContiguous === 'k' ? 'k' : 'other', (m, kk) => ({ cond: `m0 + ${m} < u.M && k0 + ${kk} < kEnd`, value: `loadA(m0 + ${m}, k0 + ${kk})` }))}
        ${stage('tileB', tn, spec.bContiguous === 'k' ? 'k' : 'other', (n, kk) => ({ cond: `n0 + ${n} < u.N && k0 + ${kk} < kEnd`, value: `loadB(k0 + ${kk}, n0 + ${n})` }))}
        workgroupBarrier();
        for (var kk = 0; kk < ${TK}; kk++) {
          let a = tileA[kk * ${tm / 4} + i32(lid.y)];
          let b = tileB[kk * ${tn / 4} + i32(lid.x)];
          acc[0] += a.x * b;
          acc[1] += a.y * b;
          acc[2] += a.z * b;
          acc[3] += a.w * b;
        }
        workgroupBarrier();
      }
      let out0 = i32(wid.z) * u.M * u.N;
      for (var i = 0; i < 4; i++) {
        let m = m0 + i32(lid.y) * 4 + i;
        for (var j = 0; j < 4; j++) {
          let n = n0 + i32(lid.x) * 4 + j;
          if (m < u.M && n < u.N) { result[out0 + m * u.N + n] = acc[i][j]; }
        }
      }`,
  });
  if (splits === 1) return partial;

  const size = M * N;
  const [sum] = runProgram(backend, {
    name: SPLIT_K_SUM,
    inputs: { partial },
    outputs: { result: spec.outputShape },
    uniforms: { size: i32(size), splits: i32(splits) },
    dispatch: gridStride(size),
    body: () => `
      ${gridStrideLoop('u.size')} {
        var s = 0.0;
        for (var k = 0; k < u.splits; k++) { s += partial[k * u.size + i]; }
        result[i] = s;
      }`,
  });
  disposeIntermediate(backend, partial);
  return sum;
}

/** The sizes, strides and padding of a convolution, as uniforms. */
export function convUniforms(info: tf.backend_util.Conv2DInfo): Record<string, Uniform> {
  return {
    inChannels: i32(info.inChannels),
    outChannels: i32(info.outChannels),
    filterWidth: i32(info.filterWidth),
    inHeight: i32(info.inHeight),
    inWidth: i32(info.inWidth),
    outHeight: i32(info.outHeight),
    outWidth: i32(info.outWidth),
    strideH: i32(info.strideHeight),
    strideW: i32(info.strideWidth),
    padTop: i32(info.padInfo.top),
    padLeft: i32(info.padInfo.left),
  };
}

type ConvCase = [label: string, x: [number, number, number, number], filter: [number, number, number, number], stride: number, pad: 'same' | 'valid'];

const CONV_CASES: ConvCase[] = [
  ['3×3 stride 1', [4, 8, 8, 3], [3, 3, 3, 5], 1, 'same'],
  ['3×3 stride 2, odd sizes', [3, 9, 7, 4], [3, 3, 4, 6], 2, 'same'],
  ['1×1 stride 2 shortcut', [2, 8, 8, 4], [1, 1, 4, 8], 2, 'same'],
  ['3×3 valid', [2, 6, 6, 2], [3, 3, 2, 3], 1, 'valid'],
  ['5×5 stride 1, odd channels', [2, 10, 10, 3], [5, 5, 3, 7], 1, 'same'],
  // Reductions of 2,048 rows: unsplit under the default rule (K ≤ UNSPLIT_MAX_K).
  ['3×3 long reduction unsplit, 16→24 channels', [8, 16, 16, 16], [3, 3, 16, 24], 1, 'same'],
  ['3×3 stride 2 long reduction unsplit, 8→16 channels', [8, 32, 32, 8], [3, 3, 8, 16], 2, 'same'],
  // Longer than UNSPLIT_MAX_K (5·32·32 = 5,120 and 17·16·16 = 4,352 rows): split-K with a second summing dispatch.
  ['3×3 split-K, 16→24 channels', [5, 32, 32, 16], [3, 3, 16, 24], 1, 'same'],
  ['3×3 stride 2 split-K, 8→16 channels', [17, 32, 32, 8], [3, 3, 8, 16], 2, 'same'],
];

/** The weight gradient's reduction length, batch × output pixels. */
function reductionLength([n, h, w]: number[], filter: number[], stride: number, pad: 'same' | 'valid'): number {
  const out = (size: number, f: number) => (pad === 'same' ? Math.ceil(size / stride) : Math.ceil((size - f + 1) / stride));
  return n * out(h, filter[0]) * out(w, filter[1]);
}

/**
 * Cases of a convolution gradient kernel: `kernelName` run directly on ReLU-like x (about half
 * exact zeros), a filter and an output gradient of each shape. A weight gradient whose reduction
 * is split must have run the summing dispatch (`splitKProgram`).
 */
export function convGradCases(kernelName: 'Conv2DBackpropFilter' | 'Conv2DBackpropInput', program: string, splitKProgram?: string): KernelCase[] {
  return CONV_CASES.map(([label, xShape, filterShape, stride, pad], i) => ({
    name: `${kernelName} ${label}`,
    program: splitKProgram && reductionLength(xShape, filterShape, stride, pad) > UNSPLIT_MAX_K ? splitKProgram : program,
    run: () => {
      const x = tf.relu(normal(xShape, 300 + 10 * i));
      const w = normal(filterShape, 301 + 10 * i) as tf.Tensor4D;
      const dy = normal(tf.conv2d(x as tf.Tensor4D, w, stride, pad).shape, 302 + 10 * i);
      const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape, inputShape: xShape };
      const inputs: tf.NamedTensorMap = kernelName === 'Conv2DBackpropFilter' ? { x, dy } : { dy, filter: w };
      return { out: runKernel(kernelName, inputs, attrs)[0] };
    },
  }));
}
