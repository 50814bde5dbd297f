import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dBackpropFilterCpu } from '../src/kernels/cpu/conv2dBackpropFilter';
import { FUSED_OPS, fusedLerpAssign, fusedSgdStep, fusedSplitBatchNorm } from '../src/kernels/fused';
import { customKernelEnabled, customKernelNames, customKernelSettings, optInKernelNames, useCustomKernels } from '../src/kernels/registry';
import { useCpuBackend } from './helpers';

beforeAll(useCpuBackend);
afterAll(() => useCustomKernels(true));

describe('the custom-kernel switch', () => {
  it('lists the WebGPU kernels, the opt-in ones apart', () => {
    const names = customKernelNames('webgpu');
    for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MocoSgdMomentum', 'MocoLerp', 'MocoBatchNormStats', 'MocoInfoNce', 'MocoAugment'])
      expect(names).toContain(k);
    expect(optInKernelNames('webgpu')).toEqual(['Conv2DBackpropInput']);
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
