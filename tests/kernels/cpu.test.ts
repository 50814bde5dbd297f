import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customKernelNames, useCustomKernels } from '../../src/kernels/registry';
import { relativeError, useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);
afterAll(() => useCustomKernels(true));

function weightGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], stride: number, pad: 'same' | 'valid') {
  // The gradient of sum(conv(x, w) · dy) with respect to w is Conv2DBackpropFilter(x, dy).
  const w = tf.zeros(filterShape) as tf.Tensor4D;
  return tf.grad((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, stride, pad).mul(dy).sum())(w);
}

describe('custom CPU kernels', () => {
  it('replaces Conv2DBackpropFilter on the CPU backend', () => {
    expect(customKernelNames('cpu')).toContain('Conv2DBackpropFilter');
  });

  type Shape4 = [number, number, number, number];
  const shapes: [string, Shape4, Shape4, number, 'same' | 'valid'][] = [
    ['3×3 stride 1', [4, 8, 8, 3], [3, 3, 3, 5], 1, 'same'],
    ['3×3 stride 2, odd padding', [3, 9, 7, 4], [3, 3, 4, 6], 2, 'same'],
    ['1×1 stride 2 shortcut', [2, 8, 8, 4], [1, 1, 4, 8], 2, 'same'],
    ['3×3 valid', [2, 6, 6, 2], [3, 3, 2, 3], 1, 'valid'],
    ['5×5 stride 1', [2, 10, 10, 3], [5, 5, 3, 2], 1, 'same'],
  ];
  for (const [name, xShape, filterShape, stride, pad] of shapes) {
    it(`Conv2DBackpropFilter matches tfjs's stock kernel: ${name}`, async () => {
      // ReLU-like inputs: about half exact zeros, which the kernel skips.
      const x = tf.relu(tf.randomNormal(xShape, 0, 1, 'float32', 1)) as tf.Tensor4D;
      const outShape = tf.conv2d(x, tf.zeros(filterShape) as tf.Tensor4D, stride, pad).shape;
      const dy = tf.randomNormal(outShape, 0, 1, 'float32', 2) as tf.Tensor4D;
      useCustomKernels(false);
      const stock = await weightGradient(x, dy, filterShape, stride, pad).data();
      useCustomKernels(true);
      const ours = await weightGradient(x, dy, filterShape, stride, pad).data();
      expect(relativeError(ours, stock)).toBeLessThan(1e-5);
      expect(Math.max(...Array.from(stock).map(Math.abs))).toBeGreaterThan(0.1);
    });
  }
});
