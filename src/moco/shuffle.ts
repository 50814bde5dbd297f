import * as tf from '@tensorflow/tfjs';

/**
 * Encodes a batch in the order `permutation` and returns its embeddings in the original order.
 * With split batch-norm this is MoCo's "shuffle BN": the keys of a sub-batch are normalised with
 * statistics from other images than the queries', so BN cannot leak which key is positive.
 *
 * Neither reordering is a pass of its own: `view(rows)` makes the encoder's input with image
 * rows[i] at row i (the augmentation reads its images in that order), and `encode(x, rows)` returns
 * at row j the embedding of x's row rows[j] (the L2 normalisation writes them in that order).
 */
export function encodeShuffled(
  permutation: Int32Array,
  view: (rows: Int32Array) => tf.Tensor4D,
  encode: (x: tf.Tensor4D, rows: Int32Array) => tf.Tensor2D,
): tf.Tensor2D {
  const inverse = new Int32Array(permutation.length);
  permutation.forEach((p, i) => (inverse[p] = i));
  return tf.tidy(() => encode(view(permutation), inverse));
}
