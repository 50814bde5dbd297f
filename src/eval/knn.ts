import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../moco/encoder';
import { yieldToEventLoop } from './features';
import { scorePredictions, type ClassificationScore } from './scores';

/**
 * The weighted kNN monitor of the official MoCo CIFAR-10 demo (after Wu et al. 2018): each query
 * takes its k most cosine-similar bank features, each neighbour votes for its class with weight
 * exp(similarity / t), and the class with the largest total wins.
 */
export interface KnnOptions {
  /** Neighbours per query (default 200; fewer when the bank is smaller). */
  k?: number;
  /** Temperature of the vote weights (default 0.1). */
  t?: number;
  numClasses: number;
  /** Queries per similarity matrix: bounds memory (and each read-back) at chunk × bank floats. */
  chunkSize?: number;
  /** Called after each chunk of queries with queries scored and total. */
  onProgress?: (done: number, total: number) => void;
  /** Also return the class votes (for inspection and tests). */
  returnVotes?: boolean;
}

export interface KnnPredictions {
  predictions: Int32Array;
  /** `[queries × classes]`, row-major; present with `returnVotes`. */
  votes?: Float32Array;
  /** The k actually used. */
  k: number;
}

export const KNN_K = 200;
export const KNN_T = 0.1;

/**
 * Predicts the class of each query from a labelled bank, on the backend. Both sets of features are
 * L2-normalised here, so raw features work too (for already normalised ones it changes nothing).
 * Inputs are not disposed.
 */
export async function weightedKnn(
  bank: tf.Tensor2D,
  bankLabels: ArrayLike<number>,
  queries: tf.Tensor2D,
  options: KnnOptions,
): Promise<KnnPredictions> {
  const { numClasses, t = KNN_T, returnVotes = false } = options;
  const bankSize = bank.shape[0];
  if (bankLabels.length !== bankSize) throw new Error(`${bankLabels.length} labels for a bank of ${bankSize}`);
  if (bankSize === 0) throw new Error('the kNN bank is empty');
  if (bank.shape[1] !== queries.shape[1]) throw new Error(`bank features have ${bank.shape[1]} dimensions, queries ${queries.shape[1]}`);
  const k = Math.min(options.k ?? KNN_K, bankSize);
  // One similarity matrix of chunk × bank floats per read-back: 4 M floats (16 MB) at most.
  const chunkSize = options.chunkSize ?? Math.max(1, Math.min(256, Math.floor(4_000_000 / bankSize)));
  const queryCount = queries.shape[0];
  const predictions = new Int32Array(queryCount);
  const votes = returnVotes ? new Float32Array(queryCount * numClasses) : undefined;
  const labels = Int32Array.from(bankLabels);
  const rowVotes = new Float64Array(numClasses);

  // The similarities are one matrix product per chunk on the backend; the k largest of each row
  // and their votes are picked on the CPU (a top-k on the backend took ~85% of the time on a
  // software renderer, for a selection that is linear time here).
  const normalizedBank = l2Normalize(bank);
  try {
    for (let start = 0; start < queryCount; start += chunkSize) {
      const size = Math.min(chunkSize, queryCount - start);
      const similarity = tf.tidy(() => tf.matMul(l2Normalize(queries.slice([start, 0], [size, -1])), normalizedBank, false, true));
      let values: Float32Array;
      try {
        values = (await similarity.data()) as Float32Array;
      } finally {
        similarity.dispose();
      }
      for (let r = 0; r < size; r++) {
        const row = values.subarray(r * bankSize, (r + 1) * bankSize);
        rowVotes.fill(0);
        for (const i of topK(row, k)) rowVotes[labels[i]] += Math.exp(row[i] / t);
        let best = 0;
        for (let c = 1; c < numClasses; c++) if (rowVotes[c] > rowVotes[best]) best = c;
        predictions[start + r] = best;
        votes?.set(rowVotes, (start + r) * numClasses);
      }
      options.onProgress?.(start + size, queryCount);
      await yieldToEventLoop();
    }
  } finally {
    normalizedBank.dispose();
  }
  return { predictions, votes, k };
}

export interface KnnEvaluation extends ClassificationScore {
  k: number;
  t: number;
  bankSize: number;
  queryCount: number;
}

/** kNN predictions scored against the queries' labels. */
export async function evaluateKnn(
  bank: tf.Tensor2D,
  bankLabels: ArrayLike<number>,
  queries: tf.Tensor2D,
  queryLabels: ArrayLike<number>,
  options: KnnOptions,
): Promise<KnnEvaluation> {
  if (queryLabels.length !== queries.shape[0]) throw new Error(`${queryLabels.length} labels for ${queries.shape[0]} queries`);
  const { predictions, k } = await weightedKnn(bank, bankLabels, queries, options);
  return {
    ...scorePredictions(predictions, queryLabels, options.numClasses),
    k,
    t: options.t ?? KNN_T,
    bankSize: bank.shape[0],
    queryCount: queries.shape[0],
  };
}

/**
 * Indices of the k largest values, in no particular order; of equal values at the cut, the lower
 * indices (as tf.topk). Linear time on average: a quickselect on a copy for the k-th largest value.
 */
export function topK(values: Float32Array, k: number): Int32Array {
  const n = values.length;
  const out = new Int32Array(Math.min(k, n));
  if (out.length === 0) return out;
  const threshold = kthLargest(Float32Array.from(values), out.length);
  let taken = 0;
  for (let i = 0; i < n && taken < out.length; i++) if (values[i] > threshold) out[taken++] = i;
  for (let i = 0; i < n && taken < out.length; i++) if (values[i] === threshold) out[taken++] = i;
  return out;
}

/** The k-th largest value (1-based) of `a`, which it reorders. */
function kthLargest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    // Hoare partition, descending: values ≥ pivot to the left, ≤ pivot to the right.
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const x = a[i];
        a[i] = a[j];
        a[j] = x;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[lo];
}
