import * as tf from '@tensorflow/tfjs';
import { gridStride, gridStrideLoop, runProgram, type Uniform } from './program';

/**
 * An implicit GEMM, C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are gathered from tensors by
 * WGSL functions (`loadA(m, k)`, `loadB(k, n)`, 0 outside) and never materialised: the convolution
 * gradients are such products over im2col views. C is written row-major ([M, N]), which is tfjs's
 * layout of both gradients.
 *
 * Each workgroup computes a (4·WY) × (4·WX) tile of C, 4×4 per invocation, staging 16-deep slices
 * of A and B in workgroup memory (as vec4 rows: one vec4 of each per 16 multiply-adds). Loads run
 * along whichever of the two indices is contiguous in memory. When the reduction is long against
 * the output (the weight gradient: k = batch × pixels), it is split over about TARGET_WORKGROUPS
 * workgroups that write partial products, and a second dispatch sums them.
 */

const TK = 16;
/** Workgroups to aim for: enough to fill a large GPU (H100/H200: 132 SMs) a few times over. */
const TARGET_WORKGROUPS = 512;
/** Least reduction length per workgroup when split. */
const MIN_K_PER_SPLIT = 256;

export interface GemmSpec {
  name: string;
  M: number;
  N: number;
  K: number;
  /** Split the reduction when the output has too few tiles to fill the GPU. */
  splitK: boolean;
  outputShape: number[];
  inputs: { name: string; tensor: tf.TensorInfo }[];
  uniforms: Uniform[];
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
  let splits = spec.splitK ? Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(K / MIN_K_PER_SPLIT))) : 1;
  const kPerSplit = Math.ceil(Math.ceil(K / splits) / TK) * TK;
  splits = Math.ceil(K / kPerSplit);

  const [partial] = runProgram(backend, {
    name: spec.name,
    key: `${wx},${wy},${spec.aContiguous},${spec.bContiguous}`,
    outputs: [{ name: 'result', shape: splits === 1 ? spec.outputShape : [splits, M, N] }],
    inputs: spec.inputs,
    uniforms: [
      { name: 'M', type: 'i32', value: M },
      { name: 'N', type: 'i32', value: N },
      { name: 'K', type: 'i32', value: K },
      { name: 'kPerSplit', type: 'i32', value: kPerSplit },
      ...spec.uniforms,
    ],
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
    name: 'MocoSplitKSum',
    key: '',
    outputs: [{ name: 'result', shape: spec.outputShape }],
    inputs: [{ name: 'partial', tensor: partial }],
    uniforms: [
      { name: 'size', type: 'i32', value: size },
      { name: 'splits', type: 'i32', value: splits },
    ],
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(size),
    body: () => `
      ${gridStrideLoop('u.size')} {
        var s = 0.0;
        for (var k = 0; k < u.splits; k++) { s += partial[k * u.size + i]; }
        result[i] = s;
      }`,
  });
  (backend as tf.KernelBackend).disposeData(partial.dataId);
  return sum;
}
