import * as tf from '@tensorflow/tfjs';
import { FUSED_OPS } from '../kernels/fused';
import { AUGMENT_KERNEL } from '../kernels/webgpu/augment';
import { BN_GRAD_KERNEL, BN_NORMALIZE_KERNEL } from '../kernels/webgpu/batchNorm';
import { CONV2D_BACKPROP_FILTER_PROGRAM } from '../kernels/webgpu/conv2dBackpropFilter';
import { CONV2D_BACKPROP_INPUT_PROGRAM } from '../kernels/webgpu/conv2dBackpropInput';
import { INFO_NCE_GRAD_KERNEL, INFO_NCE_KERNEL } from '../kernels/webgpu/infoNce';
import { L2_NORMALIZE_GRAD_KERNEL } from '../kernels/webgpu/l2Normalize';
import { RELU_GRAD_KERNEL } from '../kernels/webgpu/relu';
import { LERP_KERNEL, SGD_KERNEL } from '../kernels/webgpu/updates';
import { customKernelSettings, optInKernelNames, useCustomKernels } from '../kernels/registry';
import { applyAugment, MOCO_V1_AUGMENT, MOCO_V2_AUGMENT, sampleAugmentParams, type AugmentConfig } from '../moco/augment';
import { splitBatchNorm, updateMovingStatistics } from '../moco/batchNorm';
import { mocoConfig } from '../moco/config';
import { l2Normalize } from '../moco/encoder';
import { contrastiveStats, infoNce } from '../moco/loss';
import { MoCo } from '../moco/moco';
import { momentumUpdate } from '../moco/momentum';
import { Rng } from '../util/random';
import { SgdMomentum } from '../moco/sgd';
import { countDispatches } from '../perf/dispatchCounter';

/**
 * Our kernels against tfjs's stock ones on the current backend, on random non-zero inputs of
 * several shapes (odd sizes, stride 2, padding, split-K and single-pass reductions), and one MoCo
 * step with custom kernels on against one with them off. Runs wherever the training runs (Node
 * through Dawn, a page, a Worker): `npm run bench -- --check` and the Chromium test call it.
 */

export interface KernelCheck {
  /** Kernel or operation, and the case. */
  name: string;
  /** Largest |custom − stock| over the largest |stock|, worst over the outputs compared. */
  relativeError: number;
  tolerance: number;
  passed: boolean;
  /** Wall time of the check (both variants, shader compilation included). */
  ms?: number;
}

type Outputs = Record<string, tf.Tensor>;

/** Largest |a − b| relative to the largest |b| (1e-30 floor). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

/** ‖a − b‖₂ / ‖b‖₂ (1e-30 floor). */
export function normRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < actual.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Number.isNaN(diff) ? Infinity : Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
}

/**
 * Runs `f` with custom kernels off, then on, and compares every output. With custom kernels on,
 * `program` (one of ours) must have run: a check that silently compared stock with stock would
 * prove nothing.
 */
async function compare(name: string, tolerance: number, program: string, f: () => Outputs): Promise<KernelCheck> {
  const start = performance.now();
  const run = async (on: boolean) => {
    // Opt-in kernels too: every kernel we have is checked.
    useCustomKernels(on, { include: optInKernelNames(tf.getBackend()) });
    const { result: out, counts } = await countDispatches(tf.backend(), f);
    const values: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out)) values[k] = (await t.data()) as Float32Array;
    tf.dispose(Object.values(out));
    return { values, programs: counts.byProgram };
  };
  const { values: stock } = await run(false);
  const { values: custom, programs } = await run(true);
  if (!programs[program]) throw new Error(`${name}: ${program} did not run with custom kernels on (ran: ${Object.keys(programs).join(', ')})`);
  let worst = 0;
  for (const k of Object.keys(stock)) {
    const scale = stock[k].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // A check on all-zero data would pass whatever the kernel did.
    if (!(scale > 1e-6)) throw new Error(`${name}: stock output ${k} is all zeros, the check would prove nothing`);
    worst = Math.max(worst, relativeError(custom[k], stock[k]));
  }
  return { name, relativeError: worst, tolerance, passed: worst < tolerance, ms: performance.now() - start };
}

let seed = 1;
const normal = (shape: number[], mean = 0) => tf.randomNormal(shape, mean, 1, 'float32', seed++);

type ConvCase = [label: string, x: [number, number, number, number], filter: [number, number, number, number], stride: number, pad: 'same' | 'valid'];

const CONV_CASES: ConvCase[] = [
  ['3×3 stride 1', [4, 8, 8, 3], [3, 3, 3, 5], 1, 'same'],
  ['3×3 stride 2, odd sizes', [3, 9, 7, 4], [3, 3, 4, 6], 2, 'same'],
  ['1×1 stride 2 shortcut', [2, 8, 8, 4], [1, 1, 4, 8], 2, 'same'],
  ['3×3 valid', [2, 6, 6, 2], [3, 3, 2, 3], 1, 'valid'],
  ['5×5 stride 1, odd channels', [2, 10, 10, 3], [5, 5, 3, 7], 1, 'same'],
  // Long reduction (8·16·16 = 2048 rows): split-K with a second summing dispatch.
  ['3×3 split-K, 16→24 channels', [8, 16, 16, 16], [3, 3, 16, 24], 1, 'same'],
  ['3×3 stride 2 split-K, 8→16 channels', [8, 32, 32, 8], [3, 3, 8, 16], 2, 'same'],
];

const BN_CASES: [label: string, shape: [number, number, number, number], groups: number][] = [
  ['1 group', [4, 5, 3, 6], 1],
  ['4 groups, odd spatial size', [8, 7, 5, 3], 4],
  ['8 groups, 40 channels', [16, 4, 4, 40], 8],
  ['2 groups, 1×1 spatial', [6, 1, 1, 9], 2],
  // Many rows: with the opt-in row split, 4 and 2 (uneven) chunks merged by a second dispatch.
  ['2 groups, 8,192 rows each', [16, 32, 32, 8], 2],
  ['1 group, 9,207 rows', [9, 31, 33, 3], 1],
];

export async function checkKernels(options: { tolerance?: number; includeTrainingStep?: boolean } = {}): Promise<KernelCheck[]> {
  const tolerance = options.tolerance ?? 1e-4;
  const checks: KernelCheck[] = [];
  const settings = customKernelSettings();
  seed = 1;
  try {
    for (const [label, xShape, filterShape, stride, pad] of CONV_CASES) {
      const x = tf.relu(normal(xShape)) as tf.Tensor4D;
      const w = normal(filterShape) as tf.Tensor4D;
      const y = tf.conv2d(x, w, stride, pad);
      const dy = normal(y.shape);
      const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
      checks.push(
        await compare(`Conv2DBackpropFilter ${label}`, tolerance, CONV2D_BACKPROP_FILTER_PROGRAM, () => ({
          dw: tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }) as tf.Tensor,
        })),
      );
      checks.push(
        await compare(`Conv2DBackpropInput ${label}`, tolerance, CONV2D_BACKPROP_INPUT_PROGRAM, () => ({
          dx: tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape }) as tf.Tensor,
        })),
      );
      tf.dispose([x, w, y, dy]);
    }

    for (const [label, shape, groups] of BN_CASES) {
      const c = shape[3];
      // Non-zero mean and a spread of scales, as activations have.
      const x = normal(shape, 0.5).mul(tf.linspace(0.5, 2, c)) as tf.Tensor4D;
      const gamma = normal([c], 1) as tf.Tensor1D;
      const beta = normal([c]) as tf.Tensor1D;
      const dy = normal(shape);
      checks.push(
        await compare(`split batch-norm forward, ${label}`, tolerance, BN_NORMALIZE_KERNEL, () => {
          const r = splitBatchNorm(x, gamma, beta, groups);
          return { y: r.y, batchMean: r.batchMean, batchVariance: r.batchVariance };
        }),
      );
      checks.push(
        await compare(`split batch-norm backward, ${label}`, tolerance, BN_GRAD_KERNEL, () => {
          const [dx, dgamma, dbeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            splitBatchNorm(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups).y.mul(dy).sum(),
          )([x, gamma, beta]);
          return { dx, dgamma, dbeta };
        }),
      );
      tf.dispose([x, gamma, beta, dy]);
    }

    for (const [n, d] of [[5, 128], [3, 7]]) {
      const x = normal([n, d]).mul(tf.linspace(0.1, 3, n).reshape([n, 1])) as tf.Tensor2D;
      const dy = normal([n, d]);
      checks.push(
        await compare(`L2 normalisation forward and backward [${n}, ${d}]`, tolerance, L2_NORMALIZE_GRAD_KERNEL, () => {
          const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => l2Normalize(a as tf.Tensor2D).mul(dy).sum())(x);
          return { y: l2Normalize(x), value, dx: grad };
        }),
      );
      tf.dispose([x, dy]);
    }

    for (const shape of [[4, 7, 5, 3], [2, 16, 16, 8]]) {
      const x = normal(shape);
      const dy = normal(shape);
      checks.push(
        await compare(`ReLU backward [${shape}]`, tolerance, RELU_GRAD_KERNEL, () => ({ dx: tf.grad((a: tf.Tensor) => tf.relu(a).mul(dy).sum())(x) })),
      );
      tf.dispose([x, dy]);
    }

    for (const [label, shape, cfg, rngSeed] of AUGMENT_CASES) {
      const images = tf.randomUniform(shape, 0, 1, 'float32', seed++) as tf.Tensor4D;
      const params = sampleAugmentParams(shape[0], cfg, new Rng(rngSeed), shape[1]);
      checks.push(await compare(`augmentation, ${label}`, tolerance, AUGMENT_KERNEL, () => ({ view: applyAugment(images, params, cfg) })));
      images.dispose();
    }

    for (const [label, n, d, K, filled] of INFO_NCE_CASES) {
      // Unit vectors, as the encoders give.
      const unit = (x: tf.Tensor) => tf.tidy(() => x.div(x.norm('euclidean', 1, true))) as tf.Tensor2D;
      const q = unit(normal([n, d]));
      // Keys near their queries, so that some rows rank the positive first.
      const k = tf.tidy(() => unit(q.mul(3).add(normal([n, d]))));
      const queue = unit(normal([K, d]));
      const bias = tf.tidy(() => tf.where(tf.range(0, K).less(filled), tf.zeros([K]), tf.fill([K], -1e9)).reshape([1, K])) as tf.Tensor2D;
      checks.push(
        await compare(`InfoNCE forward and statistics, ${label}`, tolerance, INFO_NCE_KERNEL, () => {
          const out = infoNce(q, k, queue, bias, 0.2);
          const s = contrastiveStats(out, bias, filled);
          return { ...out, top1: s.top1, meanPositive: s.meanPositive, meanNegative: s.meanNegative };
        }),
      );
      checks.push(
        await compare(`InfoNCE backward, ${label}`, tolerance, INFO_NCE_GRAD_KERNEL, () => ({
          dq: tf.grad((x: tf.Tensor) => infoNce(x as tf.Tensor2D, k, queue, bias, 0.2).loss)(q),
        })),
      );
      tf.dispose([q, k, queue, bias]);
    }

    checks.push(await compareSgd(tolerance));
    checks.push(await compareMovingAverages(tolerance));
    if (options.includeTrainingStep ?? true) checks.push(...(await compareTrainingSteps(tolerance)));
  } finally {
    useCustomKernels(settings.on, settings);
  }
  return checks;
}

const AUGMENT_CASES: [label: string, shape: [number, number, number, number], cfg: AugmentConfig, seed: number][] = [
  ['MoCo v2 (blur), 6 × 32×32', [6, 32, 32, 3], MOCO_V2_AUGMENT, 3],
  ['MoCo v1, 5 × 32×32', [5, 32, 32, 3], MOCO_V1_AUGMENT, 4],
  ['every option at once, 4 × 12×9', [4, 12, 9, 3], { ...MOCO_V2_AUGMENT, jitterProbability: 1, grayscaleProbability: 0.5, blurProbability: 1 }, 5],
];

const INFO_NCE_CASES: [label: string, n: number, d: number, K: number, filled: number][] = [
  ['4 × 8, queue 10 of 16 filled', 4, 8, 16, 10],
  ['6 × 128, queue 300 of 300 (> one workgroup)', 6, 128, 300, 300],
  ['3 × 5, queue 7 of 40', 3, 5, 40, 7],
];

const PARAM_SHAPES = [[3, 3, 3, 5], [7], [5, 11], [1]];

async function compareSgd(tolerance: number): Promise<KernelCheck> {
  const initial = PARAM_SHAPES.map((s) => normal(s));
  const grads = [0, 1, 2].map(() => PARAM_SHAPES.map((s) => normal(s)));
  const check = await compare(`${FUSED_OPS.sgdMomentum}: 3 steps on ${PARAM_SHAPES.length} parameters`, tolerance, SGD_KERNEL, () => {
    const thetas = initial.map((t) => tf.variable(t.clone(), true));
    const sgd = new SgdMomentum(0.9, 5e-4);
    for (const g of grads) sgd.applyGradients(new Map(thetas.map((t, i) => [t, g[i]])), 0.1);
    sgd.dispose();
    const out = Object.fromEntries(thetas.map((t, i) => [`theta${i}`, t.clone()]));
    tf.dispose(thetas);
    return out;
  });
  tf.dispose([...initial, ...grads.flat()]);
  return check;
}

async function compareMovingAverages(tolerance: number): Promise<KernelCheck> {
  // An odd number of pairs: the fused kernel takes two per dispatch.
  const keys = PARAM_SHAPES.slice(0, 3).map((s) => normal(s));
  const queries = PARAM_SHAPES.slice(0, 3).map((s) => normal(s));
  const stats = [normal([9]), normal([9]).abs(), normal([9]), normal([9]).abs()] as tf.Tensor1D[];
  const check = await compare(`${FUSED_OPS.movingAverage}: momentum encoder (3 parameters) and moving statistics`, tolerance, LERP_KERNEL, () => {
    const key = new Map(keys.map((t, i) => [`p${i}`, tf.variable(t.clone(), false)]));
    const query = new Map(queries.map((t, i) => [`p${i}`, tf.variable(t.clone(), false)]));
    momentumUpdate(key, query, 0.99);
    const mean = tf.variable(stats[0].clone(), false);
    const variance = tf.variable(stats[1].clone(), false);
    updateMovingStatistics(mean, variance, stats[2], stats[3]);
    const out: Outputs = { mean: mean.clone(), variance: variance.clone() };
    for (const [name, v] of key) out[name] = v.clone();
    tf.dispose([...key.values(), ...query.values(), mean, variance]);
    return out;
  });
  tf.dispose([...keys, ...queries, ...stats]);
  return check;
}

/** Two MoCo steps (empty then non-empty queue) on the tiny preset, default custom kernels against stock: losses, parameters and their updates. */
async function compareTrainingSteps(tolerance: number): Promise<KernelCheck[]> {
  const batch = 8;
  const images = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const run = async (on: boolean) => {
    useCustomKernels(on);
    // No weight decay: the parameter updates are then the gradients alone (SGD's decay has its own check).
    const moco = new MoCo(mocoConfig('v2', 'tiny', { batchSize: batch, queueSize: 16, bnSplits: 2, weightDecay: 0 }));
    const before = moco.encoderQ.trainableVariables().map((v) => v.clone());
    const losses = [(await moco.step(images)).loss, (await moco.step(images)).loss];
    const after = [...moco.encoderQ.trainableVariables(), ...moco.encoderK.trainableVariables(), ...moco.encoderK.bnStatistics.values()];
    const params = await Promise.all(after.map((v) => v.data()));
    const updates = await Promise.all(moco.encoderQ.trainableVariables().map((v, i) => tf.tidy(() => v.sub(before[i])).data()));
    tf.dispose(before);
    moco.dispose();
    return { losses, params, updates };
  };
  const stock = await run(false);
  const custom = await run(true);
  images.dispose();
  const worst = (a: ArrayLike<number>[], b: ArrayLike<number>[], error = relativeError) => Math.max(...a.map((x, i) => error(x, b[i])));
  const lossError = relativeError(custom.losses, stock.losses);
  const paramError = worst(custom.params, stock.params);
  // The updates are lr·v, a small difference of the parameters: compared on their own scale they
  // check the gradients, through the whole network, where a rounding-level change of an input can
  // flip a ReLU near 0 and move single elements a lot: so in norm, ‖Δ − Δ₀‖ / ‖Δ₀‖, to 1e-3.
  const updateError = worst(custom.updates, stock.updates, normRelativeError);
  return [
    { name: `MoCo step ×2 (tiny, batch ${batch}): losses ${stock.losses.map((l) => l.toFixed(5)).join(', ')}`, relativeError: lossError, tolerance, passed: lossError < tolerance },
    { name: 'MoCo step ×2: query and key parameters, moving statistics', relativeError: paramError, tolerance, passed: paramError < tolerance },
    { name: 'MoCo step ×2: query parameter updates (gradients), in norm', relativeError: updateError, tolerance: 1e-3, passed: updateError < 1e-3 },
  ];
}
