import * as tf from '@tensorflow/tfjs';
// Registers tfjs-webgpu's flags (WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE): importing it starts no device.
import '@tensorflow/tfjs-backend-webgpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dBackpropFilterCpu } from '../../src/kernels/cpu/conv2dBackpropFilter';
import { rowSplits } from '../../src/kernels/webgpu/batchNorm';
import { bindingCacheActive } from '../../src/kernels/webgpu/bindingCache';
import { customKernelEnabled, customKernelNames, customKernelSettings, flagKernelNames, kernelCases, optInKernelNames, useCustomKernels } from '../../src/kernels/registry';
import { splitBatchNorm } from '../../src/moco/batchNorm';
import { lerpAssign } from '../../src/moco/momentum';
import { sgdStep } from '../../src/moco/sgd';
import { useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);
afterAll(() => useCustomKernels(true));

describe('the custom-kernel switch', () => {
  it('lists the WebGPU kernels by the names the switch takes, the opt-in ones apart', () => {
    expect(customKernelNames('webgpu').sort()).toEqual(
      [
        'Augment',
        'BindingCache',
        'Conv2D',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DenseBiasGrad',
        'GemmWideTiles',
        'GlobalAvgPool',
        'InfoNce',
        'L2Normalize',
        'MovingAverage',
        'ReluGrad',
        'RingWrite',
        'SgdMomentum',
        'SplitBatchNorm',
        'TfjsGemmInputGradient',
      ].sort(),
    );
    // The previous defaults kept for A/B runs (SeparateRelu, BatchNormTwoPass, SeparateHeadRelu, …) are not opt-ins.
    expect(optInKernelNames('webgpu')).toEqual(['Conv2DBackpropInput', 'Conv2D', 'GemmWideTiles', 'BindingCache', 'TfjsGemmInputGradient', 'BatchNormRowSplit']);
    // tfjs's GEMM input gradient is a flag of tfjs's, no code of ours: checked through a MoCo step instead of cases.
    expect(flagKernelNames('webgpu')).toEqual(['TfjsGemmInputGradient']);
  });

  it("collects every declaration's correctness cases, each naming a program of ours", () => {
    const cases = kernelCases('webgpu');
    const byKernel = new Set(cases.map((c) => c.kernel));
    const flagOnly = new Set(flagKernelNames('webgpu'));
    expect([...byKernel].sort()).toEqual(customKernelNames('webgpu').filter((name) => !flagOnly.has(name)).sort());
    for (const c of cases) expect(c.program, c.name).toMatch(/^Moco/);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
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
    useCustomKernels(true, { except: ['Conv2DBackpropFilter', 'SgdMomentum'] });
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).not.toBe(conv2dBackpropFilterCpu);
    expect(customKernelEnabled('SgdMomentum')).toBe(false);
    expect(customKernelEnabled('SplitBatchNorm')).toBe(true);
    expect(customKernelEnabled('BatchNormRowSplit')).toBe(false);
    expect(customKernelEnabled('BatchNormTwoPass')).toBe(false);
    expect(customKernelEnabled('GemmWideTiles')).toBe(false);
    expect(customKernelEnabled('Conv2D')).toBe(false);
    expect(customKernelSettings()).toEqual({ on: true, except: ['Conv2DBackpropFilter', 'SgdMomentum'], include: [] });
    useCustomKernels(true, { include: ['BatchNormRowSplit'] });
    expect(customKernelEnabled('BatchNormRowSplit')).toBe(true);
    // The wide tiles of every convolution GEMM of ours: a declaration of their own, on whichever of those kernels is.
    useCustomKernels(true, { include: ['Conv2D', 'GemmWideTiles'] });
    expect(customKernelEnabled('Conv2D')).toBe(true);
    expect(customKernelEnabled('GemmWideTiles')).toBe(true);
    useCustomKernels(true, { include: ['Conv2D', 'GemmWideTiles'], except: ['Conv2DBackpropFilter'] });
    expect(customKernelEnabled('Conv2DBackpropFilter')).toBe(false);
    expect(customKernelEnabled('GemmWideTiles')).toBe(true);
    useCustomKernels(true, { include: ['Conv2D', 'GemmWideTiles'], except: ['GemmWideTiles'] });
    expect(customKernelEnabled('Conv2D')).toBe(true);
    expect(customKernelEnabled('GemmWideTiles')).toBe(false);
    useCustomKernels(false, { include: ['GemmWideTiles'] });
    expect(customKernelEnabled('GemmWideTiles')).toBe(false);
    // The binding cache, the same kind of switch: how every program of ours is recorded, set only while included and on.
    const notProfiling = { activeTimers: null };
    useCustomKernels(true, { include: ['BindingCache'] });
    expect(bindingCacheActive(notProfiling)).toBe(true);
    useCustomKernels(true, { include: ['BindingCache'], except: ['BindingCache'] });
    expect(bindingCacheActive(notProfiling)).toBe(false);
    useCustomKernels(false, { include: ['BindingCache'] });
    expect(bindingCacheActive(notProfiling)).toBe(false);
    useCustomKernels(true);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).toBe(conv2dBackpropFilterCpu);
    useCustomKernels(false);
    expect(customKernelEnabled('SplitBatchNorm')).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc).not.toBe(conv2dBackpropFilterCpu);
    useCustomKernels(true);
  });

  it("sets tfjs's GEMM input-gradient flag only while TfjsGemmInputGradient is on, and puts back what it was", () => {
    const flag = 'WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE';
    const direct = () => tf.env().getBool(flag);
    useCustomKernels(true);
    expect(direct()).toBe(true);
    useCustomKernels(true, { include: ['TfjsGemmInputGradient'] });
    expect(direct()).toBe(false);
    expect(customKernelEnabled('TfjsGemmInputGradient')).toBe(true);
    // Switched again (as the benchmark does before every step): still on, and what it was is kept.
    useCustomKernels(true, { include: ['TfjsGemmInputGradient', 'BatchNormRowSplit'] });
    expect(direct()).toBe(false);
    // Stock, and custom without it: tfjs's default, the direct kernel.
    useCustomKernels(false, { include: ['TfjsGemmInputGradient'] });
    expect(direct()).toBe(true);
    useCustomKernels(true, { include: ['TfjsGemmInputGradient'], except: ['TfjsGemmInputGradient'] });
    expect(direct()).toBe(true);
    // A value set for the whole run (the bench's --flag) is what comes back, not tfjs's default.
    tf.env().set(flag, false);
    useCustomKernels(true, { include: ['TfjsGemmInputGradient'] });
    useCustomKernels(true);
    expect(direct()).toBe(false);
    tf.env().set(flag, true);
  });

  it('leaves the MoCo operations to their plain tfjs code on other backends, with the WebGPU overrides attached', () => {
    useCustomKernels(true);
    const theta = tf.variable(tf.ones([3]));
    const velocity = tf.variable(tf.zeros([3]));
    // θ ← 1 − 0.1·(0.9·0 + 1) = 0.9, then 0.5·0.9 + 0.5·0 = 0.45.
    sgdStep([{ theta, grad: tf.ones([3]), velocity }], 0.1, 0.9, 0);
    lerpAssign([[theta, tf.zeros([3])]], 0.5, 0.5);
    expect(Array.from(theta.dataSync())).toEqual([0.45, 0.45, 0.45].map(Math.fround));
    const { y } = splitBatchNorm(tf.tensor4d([1, 3], [2, 1, 1, 1]), tf.ones([1]), tf.zeros([1]), 1);
    expect(Array.from(y.dataSync()).map((v) => Number(v.toFixed(4)))).toEqual([-1, 1]);
    tf.dispose([theta, velocity, y]);
  });
});
