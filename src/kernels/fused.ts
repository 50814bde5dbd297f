import * as tf from '@tensorflow/tfjs';
import type { AugmentConfig, AugmentParams } from '../moco/augment';
import { customKernelEnabled } from './registry';
import { augmentWebGpu, type ColourConstants } from './webgpu/augment';
import { splitBatchNormWebGpu, type FusedBatchNormResult } from './webgpu/batchNorm';
import { contrastiveStatsWebGpu, infoNceWebGpu, type FusedInfoNceOutputs } from './webgpu/infoNce';
import { l2NormalizeWebGpu } from './webgpu/l2Normalize';
import { LERP_KERNEL, LERP_PAIRS_PER_DISPATCH, SGD_KERNEL } from './webgpu/updates';

/**
 * Fused versions of operations the training core writes as several tfjs ops. Each returns null or
 * false when it does not apply (custom kernels off, or a backend without the fused kernel), and
 * the caller then runs its plain tfjs code: the MoCo code stays the reference implementation.
 */
export const FUSED_OPS = {
  splitBatchNorm: 'SplitBatchNorm',
  sgdMomentum: 'SgdMomentum',
  movingAverage: 'MovingAverage',
  infoNce: 'InfoNce',
  augment: 'Augment',
  l2Normalize: 'L2Normalize',
  /** The gradient of tfjs's Relu kernel (through tfjs's gradient registry, see registry.ts). */
  reluGrad: 'ReluGrad',
} as const;

function fusedOn(op: string): boolean {
  return customKernelEnabled(op) && tf.getBackend() === 'webgpu';
}

/** Split batch-norm in training mode: y, and the batch mean and unbiased variance per channel. */
export function fusedSplitBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  epsilon: number,
): FusedBatchNormResult | null {
  if (!fusedOn(FUSED_OPS.splitBatchNorm) || x.dtype !== 'float32') return null;
  return splitBatchNormWebGpu(x, gamma, beta, groups, epsilon);
}

/** One SGD-with-momentum step of one parameter in one dispatch (see SgdMomentum for the rule). */
export function fusedSgdStep(
  theta: tf.Variable,
  grad: tf.Tensor,
  velocity: tf.Variable,
  learningRate: number,
  momentum: number,
  weightDecay: number,
): boolean {
  if (!fusedOn(FUSED_OPS.sgdMomentum)) return false;
  const [t, v] = tf.engine().runKernel(SGD_KERNEL, { theta, velocity, grad }, { learningRate, momentum, weightDecay }) as tf.Tensor[];
  theta.assign(t);
  velocity.assign(v);
  tf.dispose([t, v]);
  return true;
}

/** target ← a·target + b·source for every pair, two pairs per dispatch. */
export function fusedLerpAssign(pairs: readonly (readonly [tf.Variable, tf.Tensor])[], a: number, b: number): boolean {
  if (!fusedOn(FUSED_OPS.movingAverage)) return false;
  for (let i = 0; i < pairs.length; i += LERP_PAIRS_PER_DISPATCH) {
    const group = pairs.slice(i, i + LERP_PAIRS_PER_DISPATCH);
    const inputs: tf.NamedTensorMap = {};
    group.forEach(([target, source], p) => {
      inputs[`target${p}`] = target;
      inputs[`source${p}`] = source;
    });
    const outputs = tf.engine().runKernel(LERP_KERNEL, inputs, { a, b }) as tf.Tensor[];
    group.forEach(([target], p) => target.assign(outputs[p]));
    tf.dispose(outputs);
  }
  return true;
}

/** InfoNCE against the queue (see src/moco/loss.ts): loss, logits, positive and negative similarities. */
export function fusedInfoNce(q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, emptySlotBias: tf.Tensor2D, temperature: number): FusedInfoNceOutputs | null {
  if (!fusedOn(FUSED_OPS.infoNce)) return null;
  return infoNceWebGpu(q, k, queue, emptySlotBias, temperature);
}

/** The contrastive statistics of InfoNCE's outputs (see src/moco/loss.ts), in one dispatch. */
export function fusedContrastiveStats(
  out: FusedInfoNceOutputs,
  emptySlotBias: tf.Tensor2D,
  filled: number,
): { top1: tf.Scalar; meanPositive: tf.Scalar; meanNegative: tf.Scalar } | null {
  if (!fusedOn(FUSED_OPS.infoNce)) return null;
  return contrastiveStatsWebGpu(out, emptySlotBias, filled);
}

/** One augmented view of a batch (see applyAugment in src/moco/augment.ts), images at least 2×2. */
export function fusedAugment(images: tf.Tensor4D, p: AugmentParams, cfg: AugmentConfig, colour: ColourConstants): tf.Tensor4D | null {
  const [, h, w, c] = images.shape;
  if (!fusedOn(FUSED_OPS.augment) || h < 2 || w < 2 || c !== 3 || images.dtype !== 'float32') return null;
  return augmentWebGpu(images, p, cfg, colour);
}

/** Rows divided by their L2 norm, floored at `epsilon` (see l2Normalize in src/moco/encoder.ts). */
export function fusedL2Normalize(x: tf.Tensor2D, epsilon: number): tf.Tensor2D | null {
  if (!fusedOn(FUSED_OPS.l2Normalize) || x.dtype !== 'float32') return null;
  return l2NormalizeWebGpu(x, epsilon);
}
