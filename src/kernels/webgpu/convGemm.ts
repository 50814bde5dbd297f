import * as tf from '@tensorflow/tfjs';
import { normal, runKernel, type KernelCase } from '../declaration';
export type { ConvGradAttrs } from '../declaration';
import { disposeIntermediate, gridStride, gridStrideLoop, i32, runProgram, type Uniform } from './program';

/**
 * Convolutions as implicit GEMMs, shared by conv2dBackpropFilter.ts, conv2dBackpropInput.ts and
 * conv2d.ts: C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are gathered from tensors through WGSL
 * index functions (`GemmOperand`: an element's index, or a zero) and never materialised: the
 * convolution and its gradients are such products over im2col views. C is written row-major
 * ([M, N]), which is tfjs's layout of all three results.
 *
 * Each workgroup computes a (4·WY) × (4·WX) tile of C, 4×4 per invocation, staging 16-deep slices
 * of A and B in workgroup memory (as vec4 rows: one vec4 of each per 16 multiply-adds). Loads run
 * along whichever of the two indices is contiguous in memory. When the reduction is long against
 * the output (the weight gradient: k = batch × pixels), it is split over about TARGET_WORKGROUPS
 * workgroups that write partial products, and a second dispatch sums them (`splitsFor`).
 *
 * Opt-in wide tiles (`GemmWideTiles`, its own declaration in gemmWideTiles.ts, until a GPU's A/B
 * says which is faster): 8×8 outputs per
 * invocation in (8·WY) × (8·WX) tiles, up to 128×128 with 256 invocations; per step of the slice an
 * invocation reads 4 vec4s of workgroup memory for 64 multiply-adds (the default: 2 for 16), and
 * the two 16-deep slices of 128 floats fill WebGPU's default 16 KB of workgroup memory exactly.
 * Where an operand's contiguous length is a multiple of 4 (`GemmOperand.vec4`: every ResNet
 * channel count but the stem's 3 inputs), staging loads 4 consecutive elements at once, a vec4 of
 * a vec4 binding, so the im2col index arithmetic runs once per 4 elements; elsewhere it loads
 * scalars as the default does.
 * Those programs carry the kernel's name with `Wide` appended, so profiles and counts tell them apart.
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

/** 8×8 outputs per invocation and vec4 staging, for every kernel that runs `runGemm`: set by the `GemmWideTiles` declaration. */
let wideTiles = false;

export function setGemmWideTiles(on: boolean): void {
  wideTiles = on;
}

/** `run` with the wide tiles on or off whatever the switch says (the cases of each path). */
export function withGemmWideTiles<T>(on: boolean, run: () => T): () => T {
  return () => {
    const before = wideTiles;
    wideTiles = on;
    try {
      return run();
    } finally {
      wideTiles = before;
    }
  };
}

/** The program name of a GEMM's wide-tile path. */
export const wideProgram = (name: string): string => `${name}Wide`;

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
  /** WGSL defining the operands' index functions. */
  indexing: string;
  a: GemmOperand<'m' | 'k'>;
  b: GemmOperand<'k' | 'n'>;
}

/** An operand of the GEMM, gathered from one of the inputs. */
export interface GemmOperand<Contiguous extends 'm' | 'k' | 'n'> {
  /** The input it is read from. */
  buffer: string;
  /**
   * A function of `indexing`, `fn NAME(m : i32, k : i32) -> i32` for A, `(k : i32, n : i32)` for B
   * (called in range: m < M, k < K, n < N): the element's index in `buffer`, or a negative number
   * for a zero (padding, a tap that meets no output position).
   */
  index: string;
  /** Which index is contiguous in memory, for coalesced loads. */
  contiguous: Contiguous;
  /**
   * Wide tiles: 4 consecutive elements along `contiguous` loaded at once, in one index computation
   * and one 128-bit load (the buffer bound as vec4s). Only where the length along it is a multiple of 4
   * and the 4 elements from a multiple of 4 lie side by side in the buffer from a multiple of 4 (a
   * channel count divisible by 4); then the first in range means all 4 are.
   */
  vec4: boolean;
}

/** WGSL of the operand's loader: `fn NAME(i : i32, j : i32) -> f32`, or, with `vec4`, `fn NAME4(…) -> vec4<f32>` reading a vec4 binding. */
function loader(name: 'loadA' | 'loadB', op: GemmOperand<'m' | 'k' | 'n'>, vec4: boolean): string {
  return vec4
    ? `
      fn ${name}4(i : i32, j : i32) -> vec4<f32> {
        let e = ${op.index}(i, j);
        if (e < 0) { return vec4<f32>(); }
        return ${op.buffer}[e / 4];
      }`
    : `
      fn ${name}(i : i32, j : i32) -> f32 {
        let e = ${op.index}(i, j);
        if (e < 0) { return 0.0; }
        return ${op.buffer}[e];
      }`;
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

/**
 * `tile[kk][x]` ← 4 consecutive elements at once, for every (kk, x) of a TK × width slice: along x
 * (one vec4 write) or along kk (four scalar writes).
 */
function stage4(tile: string, width: number, along: 'k' | 'other', load: (x: string, kk: string) => { cond: string; value: string }): string {
  if (along === 'other') {
    const { cond, value } = load('x', 'kk');
    return `
        for (var l = i32(lidx); l < ${(TK * width) / 4}; l += threads) {
          let kk = l / ${width / 4};
          let x = (l % ${width / 4}) * 4;
          var v = vec4<f32>();
          if (${cond}) { v = ${value}; }
          ${tile}[kk * ${width / 4} + x / 4] = v;
        }`;
  }
  const { cond, value } = load('x', 'kk');
  return `
        for (var l = i32(lidx); l < ${(TK / 4) * width}; l += threads) {
          let kk = (l % ${TK / 4}) * 4;
          let x = l / ${TK / 4};
          var v = vec4<f32>();
          if (${cond}) { v = ${value}; }
          ${[0, 1, 2, 3].map((i) => `${tile}[(kk + ${i}) * ${width / 4} + x / 4][x % 4] = v[${i}];`).join('\n          ')}
        }`;
}

/**
 * A tile path of `runGemm`: `per` × `per` outputs per invocation, its program's name, whether it
 * loads an operand 4 elements at a time, and the three parts of its WGSL that differ: the
 * accumulators, the multiply-adds of one step of the slice, and the writes of C.
 */
interface TilePath {
  per: number;
  program: (name: string) => string;
  vec4: (op: GemmOperand<'m' | 'k' | 'n'>) => boolean;
  accumulators: string;
  multiply: (tm: number, tn: number) => string;
  write: (tm: number, tn: number) => string;
}

const NARROW: TilePath = {
  per: 4,
  program: (name) => name,
  vec4: () => false,
  accumulators: 'var acc : array<vec4<f32>, 4>;',
  multiply: (tm, tn) => `let a = tileA[kk * ${tm / 4} + i32(lid.y)];
          let b = tileB[kk * ${tn / 4} + i32(lid.x)];
          acc[0] += a.x * b;
          acc[1] += a.y * b;
          acc[2] += a.z * b;
          acc[3] += a.w * b;`,
  write: () => `for (var i = 0; i < 4; i++) {
        let m = m0 + i32(lid.y) * 4 + i;
        for (var j = 0; j < 4; j++) {
          let n = n0 + i32(lid.x) * 4 + j;
          if (m < u.M && n < u.N) { result[out0 + m * u.N + n] = acc[i][j]; }
        }
      }`,
};

const ROWS = [0, 1, 2, 3, 4, 5, 6, 7];
const component = (i: number) => 'xyzw'[i % 4];

/**
 * The wide path: invocation (lid.x, lid.y) holds rows 4·lid.y + i and TM/2 + 4·lid.y + i (i < 4) and
 * the columns likewise, so that its 4 workgroup-memory reads per step are whole vec4s that
 * neighbouring invocations take side by side, and its writes of C are coalesced. Unrolled, with
 * constant indices only, so that the 64 sums stay in registers.
 */
const WIDE: TilePath = {
  per: 8,
  program: wideProgram,
  vec4: (op) => op.vec4,
  accumulators: ROWS.map((r) => `var acc${r}0 = vec4<f32>(); var acc${r}1 = vec4<f32>();`).join('\n      '),
  multiply: (tm, tn) => `let a0 = tileA[kk * ${tm / 4} + i32(lid.y)];
          let a1 = tileA[kk * ${tm / 4} + ${tm / 8} + i32(lid.y)];
          let b0 = tileB[kk * ${tn / 4} + i32(lid.x)];
          let b1 = tileB[kk * ${tn / 4} + ${tn / 8} + i32(lid.x)];
          ${ROWS.map((r) => `acc${r}0 += a${r >> 2}.${component(r)} * b0; acc${r}1 += a${r >> 2}.${component(r)} * b1;`).join('\n          ')}`,
  write: (tm, tn) =>
    ROWS.map(
      (r) => `{
        let m = m0 + ${(r >> 2) * (tm / 2)} + i32(lid.y) * 4 + ${r % 4};
        if (m < u.M) {
          ${[0, 1]
            .map(
              (h) => `{
            let n = n0 + ${h * (tn / 2)} + i32(lid.x) * 4;
            ${[0, 1, 2, 3].map((j) => `if (n + ${j} < u.N) { result[out0 + m * u.N + n + ${j}] = acc${r}${h}.${component(j)}; }`).join('\n            ')}
          }`,
            )
            .join('\n          ')}
        }
      }`,
    ).join('\n      '),
};

/** The slices of K: one per workgroup along z, each a multiple of TK long. */
function kSlices(spec: GemmSpec, tiles: number): { splits: number; kPerSplit: number } {
  const splits = spec.splitK ? splitsFor(spec.K, tiles) : 1;
  const kPerSplit = Math.ceil(Math.ceil(spec.K / splits) / TK) * TK;
  return { splits: Math.ceil(spec.K / kPerSplit), kPerSplit };
}

export function runGemm(backend: object, spec: GemmSpec): tf.TensorInfo {
  const partial = runTiles(backend, spec, wideTiles ? WIDE : NARROW);
  if (partial.splits === 1) return partial.result;
  return sumSplits(backend, spec, partial.result, partial.splits);
}

/**
 * One dispatch of the GEMM on `path`'s tiles: workgroups of up to 16 × 16 invocations (fewer where M
 * or N is small), the slices of K over z, two workgroup tiles of TK-deep slices of A and B.
 */
function runTiles(backend: object, spec: GemmSpec, path: TilePath): { result: tf.TensorInfo; splits: number } {
  const { M, N, K, a, b } = spec;
  const [vec4A, vec4B] = [path.vec4(a), path.vec4(b)];
  if ((vec4A && (a.contiguous === 'm' ? M : K) % 4) || (vec4B && (b.contiguous === 'n' ? N : K) % 4))
    throw new Error(`${spec.name}: a vec4 operand needs its contiguous length to be a multiple of 4 (M ${M}, N ${N}, K ${K})`);
  // A buffer is bound one way: both operands that read it load vec4s, or both scalars.
  if (a.buffer === b.buffer && vec4A !== vec4B) throw new Error(`${spec.name}: A and B read ${a.buffer}, one as vec4s and the other as scalars`);
  const wx = pow2AtLeast(Math.ceil(N / path.per), 16);
  const wy = pow2AtLeast(Math.ceil(M / path.per), 16);
  const tm = path.per * wy;
  const tn = path.per * wx;
  const grid: [number, number] = [Math.ceil(N / tn), Math.ceil(M / tm)];
  const { splits, kPerSplit } = kSlices(spec, grid[0] * grid[1]);
  const along = (c: string) => (c === 'k' ? 'k' : 'other');
  const loadA = (m: string, kk: string) => ({ cond: `m0 + ${m} < u.M && k0 + ${kk} < kEnd`, value: `loadA${vec4A ? '4' : ''}(m0 + ${m}, k0 + ${kk})` });
  const loadB = (n: string, kk: string) => ({ cond: `n0 + ${n} < u.N && k0 + ${kk} < kEnd`, value: `loadB${vec4B ? '4' : ''}(k0 + ${kk}, n0 + ${n})` });
  // WGSL, built only when the pipeline is (as the bodies that use them).
  const tiles = () => `
      var<workgroup> tileA : array<vec4<f32>, ${(TK * tm) / 4}>;
      var<workgroup> tileB : array<vec4<f32>, ${(TK * tn) / 4}>;`;
  const prologue = () => `
      let threads = ${wx * wy};
      let m0 = i32(wid.y) * ${tm};
      let n0 = i32(wid.x) * ${tn};
      let kStart = i32(wid.z) * u.kPerSplit;
      let kEnd = min(kStart + u.kPerSplit, u.K);`;

  const [result] = runProgram(backend, {
    name: path.program(spec.name),
    key: `${wx},${wy},${a.contiguous},${b.contiguous},${vec4A},${vec4B}`,
    inputs: spec.inputs,
    vec4Inputs: [...(vec4A ? [a.buffer] : []), ...(vec4B ? [b.buffer] : [])],
    outputs: { result: splits === 1 ? spec.outputShape : [splits, M, N] },
    uniforms: { M: i32(M), N: i32(N), K: i32(K), kPerSplit: i32(kPerSplit), ...spec.uniforms },
    workgroupSize: [wx, wy, 1],
    dispatch: [...grid, splits],
    declarations: () => `
      ${tiles()}
      ${spec.indexing}
      ${loader('loadA', a, vec4A)}
      ${loader('loadB', b, vec4B)}`,
    body: () => `
      ${prologue()}
      ${path.accumulators}
      for (var k0 = kStart; k0 < kEnd; k0 += ${TK}) {
        ${(vec4A ? stage4 : stage)('tileA', tm, along(a.contiguous), loadA)}
        ${(vec4B ? stage4 : stage)('tileB', tn, along(b.contiguous), loadB)}
        workgroupBarrier();
        for (var kk = 0; kk < ${TK}; kk++) {
          ${path.multiply(tm, tn)}
        }
        workgroupBarrier();
      }
      let out0 = i32(wid.z) * u.M * u.N;
      ${path.write(tm, tn)}`,
  });
  return { result, splits };
}

/** The second dispatch of a split reduction: C = Σ over the slices of their partial products. */
function sumSplits(backend: object, spec: GemmSpec, partial: tf.TensorInfo, splits: number): tf.TensorInfo {
  const size = spec.M * spec.N;
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

/**
 * WGSL (over `convUniforms`): the index in x (NHWC) of the input pixel that output position
 * `pixel` = (b, oy, ox) meets through filter tap `tap` = (fy, fx, ci), or -1 in the padding: the
 * im2col view that the forward convolution (rows: pixels) and the weight gradient (rows: taps) read.
 */
export const IM2COL_INDEX = `
      fn im2colIndex(pixel : i32, tap : i32) -> i32 {
        let ci = tap % u.inChannels;
        let f = tap / u.inChannels;
        let fy = f / u.filterWidth;
        let fx = f - fy * u.filterWidth;
        let pixels = u.outHeight * u.outWidth;
        let b = pixel / pixels;
        let p = pixel - b * pixels;
        let oy = p / u.outWidth;
        let ox = p - oy * u.outWidth;
        let iy = oy * u.strideH - u.padTop + fy;
        let ix = ox * u.strideW - u.padLeft + fx;
        if (iy < 0 || iy >= u.inHeight || ix < 0 || ix >= u.inWidth) { return -1; }
        return ((b * u.inHeight + iy) * u.inWidth + ix) * u.inChannels + ci;
      }`;

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

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type ConvCase = [label: string, x: [number, number, number, number], filter: [number, number, number, number], stride: number, pad: Pad];

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
  // Wide enough for a whole 128-wide tile of the wide path and a partial one (136 = 128 + 8) on every side of every GEMM.
  ['3×3 stride 1, 128→136 channels, odd sizes', [2, 9, 9, 128], [3, 3, 128, 136], 1, 'same'],
];

/** Explicit padding, which only the forward convolution takes from tf.conv2d (the gradients get it from tfjs's own gradient). */
const FORWARD_CASES: ConvCase[] = [
  ['3×3 explicit padding (1, 2, 0, 1), odd sizes', [2, 7, 9, 4], [3, 3, 4, 8], 1, [[0, 0], [1, 2], [0, 1], [0, 0]]],
  ['3×3 stride 2 explicit padding, 3 input channels', [3, 11, 10, 3], [3, 3, 3, 8], 2, [[0, 0], [2, 0], [1, 1], [0, 0]]],
];

export type ConvKernelName = 'Conv2D' | 'Conv2DBackpropFilter' | 'Conv2DBackpropInput';

/**
 * Cases of a convolution kernel of ours, on the default path or on the wide tiles (`wide`: named
 * so, they must run the `Wide` program): `kernelName` run directly on ReLU-like x (about half exact
 * zeros), a filter and an output gradient of each shape. A weight gradient whose reduction is split
 * must have run the summing dispatch (`splitKProgram`), on the wide path its wide program.
 */
export function convCases(kernelName: ConvKernelName, program: string, options: { splitKProgram?: string; wide?: boolean } = {}): KernelCase[] {
  const { splitKProgram, wide = false } = options;
  const cases = kernelName === 'Conv2D' ? [...CONV_CASES, ...FORWARD_CASES] : CONV_CASES;
  return cases.map(([label, xShape, filterShape, stride, pad], i) => {
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, stride, 1, pad);
    const split = splitKProgram !== undefined && info.batchSize * info.outHeight * info.outWidth > UNSPLIT_MAX_K;
    return {
      name: `${kernelName}${wide ? ' (wide tiles)' : ''} ${label}`,
      program: wide ? wideProgram(program) : split ? splitKProgram : program,
      run: withGemmWideTiles(wide, () => {
        const x = tf.relu(normal(xShape, 300 + 10 * i));
        const w = normal(filterShape, 301 + 10 * i) as tf.Tensor4D;
        const dy = normal(info.outShape, 302 + 10 * i);
        const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dilations: [1, 1], filterShape, inputShape: xShape };
        const inputs: tf.NamedTensorMap = kernelName === 'Conv2D' ? { x, filter: w } : kernelName === 'Conv2DBackpropFilter' ? { x, dy } : { dy, filter: w };
        return { out: runKernel(kernelName, inputs, attrs)[0] };
      }),
    };
  });
}
