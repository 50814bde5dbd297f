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
  /** Queries per similarity matrix: bounds memory at chunk × bank floats. */
  chunkSize?: number;
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
  // The one-hot votes take chunk × k × classes floats: keep that near 4 M for CIFAR-100's 100 classes.
  const chunkSize = options.chunkSize ?? Math.max(1, Math.min(256, Math.floor(4_000_000 / (k * numClasses))));
  const queryCount = queries.shape[0];
  const predictions = new Int32Array(queryCount);
  const votes = returnVotes ? new Float32Array(queryCount * numClasses) : undefined;

  const normalizedBank = l2Normalize(bank);
  const labels = tf.tensor1d(Int32Array.from(bankLabels), 'int32');
  try {
    for (let start = 0; start < queryCount; start += chunkSize) {
      const size = Math.min(chunkSize, queryCount - start);
      const [chunkVotes, chunkPredictions] = tf.tidy(() => {
        const q = l2Normalize(queries.slice([start, 0], [size, -1]));
        const similarity = tf.matMul(q, normalizedBank, false, true);
        const { values, indices } = tf.topk(similarity, k);
        const weights = values.div(t).exp();
        const neighbourLabels = tf.gather(labels, indices);
        const classVotes = tf.oneHot(neighbourLabels, numClasses).toFloat().mul(weights.expandDims(2)).sum(1) as tf.Tensor2D;
        return [classVotes, classVotes.argMax(1)];
      });
      try {
        predictions.set(await chunkPredictions.data(), start);
        if (votes) votes.set(await chunkVotes.data(), start * numClasses);
      } finally {
        chunkVotes.dispose();
        chunkPredictions.dispose();
      }
      await yieldToEventLoop();
    }
  } finally {
    normalizedBank.dispose();
    labels.dispose();
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
