import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../moco/encoder';
import { topK } from './knn';

export interface Neighbour {
  /** Row of the bank (= index of the image in the bank's dataset). */
  index: number;
  /** Cosine similarity to the query, −1..1. */
  similarity: number;
}

/**
 * The bank images most similar to one query feature (cosine similarity), most similar first: what
 * the app shows as "what the network thinks looks alike". `exclude` drops one bank row, for a query
 * taken from the bank itself. Inputs are not disposed.
 */
export async function nearestNeighbours(
  query: tf.Tensor1D | Float32Array,
  bank: tf.Tensor2D,
  count = 8,
  exclude?: number,
): Promise<Neighbour[]> {
  const [bankSize, dim] = bank.shape;
  const queryLength = query instanceof Float32Array ? query.length : query.shape[0];
  if (queryLength !== dim) throw new Error(`the query has ${queryLength} dimensions, the bank ${dim}`);
  const available = bankSize - (exclude !== undefined && exclude >= 0 && exclude < bankSize ? 1 : 0);
  const k = Math.min(count, available);
  if (k <= 0) return [];
  // One matrix product on the backend; the k best of one row are picked here (see weightedKnn).
  const product = tf.tidy(() => {
    const q = l2Normalize((query instanceof Float32Array ? tf.tensor2d(query, [1, dim]) : query.reshape([1, dim])) as tf.Tensor2D);
    return tf.matMul(q, l2Normalize(bank), false, true);
  });
  let similarity: Float32Array;
  try {
    similarity = Float32Array.from(await product.data());
  } finally {
    product.dispose();
  }
  const similarities = similarity.slice();
  if (exclude !== undefined && exclude >= 0 && exclude < bankSize) similarity[exclude] = -Infinity;
  const rows = Array.from(topK(similarity, k)).sort((a, b) => similarities[b] - similarities[a] || a - b);
  return rows.map((index) => ({ index, similarity: similarities[index] }));
}
