import * as tf from '@tensorflow/tfjs';

/**
 * Runs `encode` on the batch in the order `permutation` and returns its rows in the original
 * order. With split batch-norm this is MoCo's "shuffle BN": the keys of a sub-batch are normalised
 * with statistics from other images than the queries', so BN cannot leak which key is positive.
 */
export function encodeShuffled(x: tf.Tensor4D, permutation: Int32Array, encode: (x: tf.Tensor4D) => tf.Tensor2D): tf.Tensor2D {
  const inverse = new Int32Array(permutation.length);
  permutation.forEach((p, i) => (inverse[p] = i));
  return tf.tidy(() => tf.gather(encode(tf.gather(x, permutation)), inverse));
}
