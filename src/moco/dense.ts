import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/**
 * A dense layer, x·W + b (ReLU(x·W + b) with `relu`), `[N, in]` → `[N, out]` (tfjs's fused matmul:
 * the bias and the ReLU applied by the matmul's kernel).
 */
export const dense = overridable(
  'dense',
  (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, relu = false): tf.Tensor2D =>
    tf.fused.matMul({ a: x, b: kernel, bias, activation: relu ? 'relu' : 'linear' }) as tf.Tensor2D,
);
