import * as tf from '@tensorflow/tfjs';
import { IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from './dataset';

/** The images at `indices` as a `[n, 32, 32, 3]` float tensor in [0, 1]; bytes go to the device, scaling happens there. */
export function imagesTensor(ds: ImageDataset, indices: ArrayLike<number>): tf.Tensor4D {
  const bytes = new Int32Array(indices.length * IMAGE_BYTES);
  for (let j = 0; j < indices.length; j++) {
    const from = indices[j] * IMAGE_BYTES;
    const to = j * IMAGE_BYTES;
    for (let b = 0; b < IMAGE_BYTES; b++) bytes[to + b] = ds.images[from + b];
  }
  return tf.tidy(() => tf.tensor4d(bytes, [indices.length, IMAGE_SIZE, IMAGE_SIZE, 3], 'int32').toFloat().div(255));
}
