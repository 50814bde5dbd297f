import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dBackpropFilterCpu } from '../../src/kernels/cpu/conv2dBackpropFilter';
import { FUSED_OPS, fusedLerpAssign, fusedSgdStep, fusedSplitBatchNorm } from '../../src/kernels/fused';
import { BN_ROW_SPLIT, rowSplits } from '../../src/kernels/webgpu/batchNorm';
import { customKernelEnabled, customKernelNames, customKernelSettings, optInKernelNames, useCustomKernels } from '../../src/kernels/registry';
import { useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);
afterAll(() => useCustomKernels(true));

describe('the custom-kernel switch', () => {
  it('lists the WebGPU kernels, the opt-in ones apart', () => {
    const names = customKernelNames('webgpu');
    for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MocoSgdMomentum', 'MocoLerp', 'MocoBatchNormStats', 'MocoInfoNce', 'MocoAugment'])
      expect(names).toContain(k);
    expect(optInKernelNames('webgpu')).toEqual(['Conv2DBackpropInput', BN_ROW_SPLIT]);
  });

  it('splits batch-norm rows over more workgroups only where one per channel tile and group is too few', () => {
    // ResNet-18, batch 256, 8 groups, first stage: 16 workgroups of 32,768 rows → 256 of 2,048.
    expect(rowSplits(32 * 32 * 32, 64, 8)).toBe(16);
    expect(rowSplits(16 * 32 * 32, 16, 8)).toBe(16);
    // Enough workgroups already (512 channels), or too few rows to share (tiny preset, batch 8).
    expect(rowSplits(32 * 4 * 4, 512, 8)).toBe(1);
    expect(rowSplits(1 * 32 * 32, 4, 8)).toBe(1);
    // The kernel checks' cases (src/bench/kernelChecks.ts) that exercise the merge.
    expect(rowSplits(8 * 32 * 32, 8, 2)).toBe(4);
    expect(rowSplits(9 * 31 * 33, 3, 1)).toBe(2);
  });

  it('turns kernels and fused operations on and off, with exceptions, and reports its state', () => {
    useCustomKernels(true, { except: ['Conv2DBackpropFilter', FUSED_OPS.sgdMomentum] });
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).not.toBe(conv2dBackpropFilterCpu);
    expect(customKernelEnabled(FUSED_OPS.sgdMomentum)).toBe(false);
    expect(customKernelEnabled(FUSED_OPS.splitBatchNorm)).toBe(true);
    expect(customKernelSettings()).toEqual({ on: true, except: ['Conv2DBackpropFilter', FUSED_OPS.sgdMomentum], include: [] });
    useCustomKernels(true);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).toBe(conv2dBackpropFilterCpu);
    useCustomKernels(false);
    expect(customKernelEnabled(FUSED_OPS.splitBatchNorm)).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).not.toBe(conv2dBackpropFilterCpu);
    useCustomKernels(true);
  });

  it('leaves the fused WebGPU operations to the plain tfjs code on other backends', () => {
    const theta = tf.variable(tf.ones([3]));
    const velocity = tf.variable(tf.zeros([3]));
    expect(fusedSgdStep(theta, tf.ones([3]), velocity, 0.1, 0.9, 0)).toBe(false);
    expect(fusedLerpAssign([[theta, tf.zeros([3])]], 0.5, 0.5)).toBe(false);
    expect(fusedSplitBatchNorm(tf.ones([2, 2, 2, 3]) as tf.Tensor4D, tf.ones([3]), tf.zeros([3]), 1, 1e-5)).toBeNull();
    expect(Array.from(theta.dataSync())).toEqual([1, 1, 1]);
    tf.dispose([theta, velocity]);
  });
});
