import type { CustomKernel } from '../declaration';
import { augment } from './augment';
import { bindingCache } from './bindingCache';
import { splitBatchNorm } from './batchNorm';
import { conv2d } from './conv2d';
import { conv2dBackpropFilter } from './conv2dBackpropFilter';
import { conv2dBackpropInput } from './conv2dBackpropInput';
import { denseBiasGrad } from './dense';
import { gemmWideTiles } from './gemmWideTiles';
import { globalAvgPool } from './globalAvgPool';
import { infoNce } from './infoNce';
import { l2Normalize } from './l2Normalize';
import { movingAverage } from './movingAverage';
import { reluGrad } from './relu';
import { ringWrite } from './ringWrite';
import { sgdMomentum } from './sgd';
import { tfjsGemmInputGradient } from './tfjsGemmInputGradient';

/** Our WebGPU kernels, one declaration per file (as tfjs's register_all_kernels.ts). */
export const WEBGPU_KERNELS: CustomKernel[] = [
  conv2dBackpropFilter,
  conv2dBackpropInput,
  conv2d,
  gemmWideTiles,
  reluGrad,
  splitBatchNorm,
  globalAvgPool,
  denseBiasGrad,
  l2Normalize,
  infoNce,
  augment,
  ringWrite,
  sgdMomentum,
  movingAverage,
  bindingCache,
  tfjsGemmInputGradient,
];
