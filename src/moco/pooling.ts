import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** The ResNet's global average pooling: the mean over height and width, `[N, H, W, C]` → `[N, C]`. */
export const globalAvgPool = overridable('globalAvgPool', (x: tf.Tensor4D): tf.Tensor2D => tf.mean(x, [1, 2]) as tf.Tensor2D);
