import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** A dense layer, x·W + b, `[N, in]` → `[N, out]` (tfjs's fused matmul: the bias added by the matmul's kernel). */
export const dense = overridable('dense', (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D => tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D);
