import type * as tf from '@tensorflow/tfjs';
import { AUGMENT_KERNEL, AUGMENT_MEAN_GRAY_KERNEL, augmentKernel, augmentMeanGrayKernel } from './augment';
import {
  BN_GRAD_KERNEL,
  BN_GRAD_STATS_KERNEL,
  BN_NORMALIZE_KERNEL,
  BN_STATS_KERNEL,
  batchNormGradKernel,
  batchNormGradStatsKernel,
  batchNormNormalizeKernel,
  batchNormStatsKernel,
} from './batchNorm';
import { conv2dBackpropFilterWebGpu } from './conv2dBackpropFilter';
import { conv2dBackpropInputWebGpu } from './conv2dBackpropInput';
import {
  CONTRASTIVE_STATS_KERNEL,
  INFO_NCE_GRAD_KERNEL,
  INFO_NCE_KERNEL,
  contrastiveStatsKernel,
  infoNceGradKernel,
  infoNceKernel,
} from './infoNce';
import { L2_NORMALIZE_GRAD_KERNEL, L2_NORMALIZE_KERNEL, l2NormalizeGradKernel, l2NormalizeKernel } from './l2Normalize';
import { RELU_GRAD_KERNEL, reluGradient, reluGradKernel } from './relu';
import { LERP_KERNEL, SGD_KERNEL, lerpKernel, sgdMomentumKernel } from './updates';

/** Replacements for tfjs-webgpu's kernels, each made from the stock kernel (which some reuse). */
export const WEBGPU_REPLACEMENTS: { kernelName: string; make: (stock: tf.KernelFunc) => tf.KernelFunc; optIn?: boolean }[] = [
  { kernelName: 'Conv2DBackpropFilter', make: () => conv2dBackpropFilterWebGpu },
  // Opt-in: slower than tfjs's kernel on SwiftShader, not yet measured on a GPU (docs/PERFORMANCE.md).
  { kernelName: 'Conv2DBackpropInput', make: () => conv2dBackpropInputWebGpu, optIn: true },
];

/** Kernels of our own (fused operations), reached only through src/kernels/fused.ts. */
export const WEBGPU_FUSED_KERNELS: { kernelName: string; kernelFunc: tf.KernelFunc }[] = [
  { kernelName: SGD_KERNEL, kernelFunc: sgdMomentumKernel },
  { kernelName: LERP_KERNEL, kernelFunc: lerpKernel },
  { kernelName: BN_STATS_KERNEL, kernelFunc: batchNormStatsKernel },
  { kernelName: BN_NORMALIZE_KERNEL, kernelFunc: batchNormNormalizeKernel },
  { kernelName: BN_GRAD_STATS_KERNEL, kernelFunc: batchNormGradStatsKernel },
  { kernelName: BN_GRAD_KERNEL, kernelFunc: batchNormGradKernel },
  { kernelName: INFO_NCE_KERNEL, kernelFunc: infoNceKernel },
  { kernelName: INFO_NCE_GRAD_KERNEL, kernelFunc: infoNceGradKernel },
  { kernelName: CONTRASTIVE_STATS_KERNEL, kernelFunc: contrastiveStatsKernel },
  { kernelName: AUGMENT_MEAN_GRAY_KERNEL, kernelFunc: augmentMeanGrayKernel },
  { kernelName: AUGMENT_KERNEL, kernelFunc: augmentKernel },
  { kernelName: RELU_GRAD_KERNEL, kernelFunc: reluGradKernel },
  { kernelName: L2_NORMALIZE_KERNEL, kernelFunc: l2NormalizeKernel },
  { kernelName: L2_NORMALIZE_GRAD_KERNEL, kernelFunc: l2NormalizeGradKernel },
];

/** Gradients (global in tfjs, for every backend) that use our kernels when `on()`, tfjs's otherwise. */
export const WEBGPU_GRADIENTS: { kernelName: string; make: (stock: tf.GradConfig, on: () => boolean) => tf.GradConfig }[] = [
  { kernelName: 'Relu', make: reluGradient },
];
