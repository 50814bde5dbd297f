import * as tf from '@tensorflow/tfjs';
import type { ImageDataset } from '../data/dataset';
import { imagesTensor } from '../data/tensors';
import { Normalizer, type AugmentConfig } from '../moco/augment';
import { l2Normalize, type Encoder } from '../moco/encoder';

/** The test transform: per-channel normalisation only, with the training run's mean and std. */
export type Normalization = Pick<AugmentConfig, 'mean' | 'std'>;

/**
 * Which output of the encoder: `backbone` is the pooled ResNet features (what linear probes use),
 * `head` the L2-normalised projection-head output MoCo trains on (what the official CIFAR demo's kNN
 * monitor reads, since its encoder ends with the fc layer).
 */
export type EncoderOutput = 'backbone' | 'head';

export interface FeatureOptions {
  /** Images per forward pass: bounds the activations' memory, not the result's. */
  batchSize?: number;
  /** Which images, in this order (default: all). */
  indices?: ArrayLike<number>;
  /** Called after each batch with images done and total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * L2-normalised backbone features of a dataset, `[N, D]`, left on the backend for kNN, the probe
 * and PCA. The caller owns (and disposes) the result. Between batches the event loop runs, so a
 * Worker stays responsive to messages during a long extraction.
 */
export async function extractFeatures(
  encoder: Encoder,
  ds: ImageDataset,
  normalization: Normalization,
  options: FeatureOptions = {},
): Promise<tf.Tensor2D> {
  return (await extractOutputs(encoder, ds, normalization, ['backbone'], options))[0];
}

/**
 * Several outputs of one inference pass, in the order asked, each `[N, D]` and L2-normalised; the
 * caller disposes them.
 */
export async function extractOutputs(
  encoder: Encoder,
  ds: ImageDataset,
  normalization: Normalization,
  outputs: readonly EncoderOutput[],
  options: FeatureOptions = {},
): Promise<tf.Tensor2D[]> {
  const { batchSize = 256, onProgress } = options;
  const indices = options.indices ?? Int32Array.from({ length: ds.size }, (_, i) => i);
  const total = indices.length;
  if (total === 0) throw new Error('no images to extract features from');
  const parts: tf.Tensor2D[][] = outputs.map(() => []);
  // The mean and std go up once for all batches.
  const normalizer = new Normalizer(normalization);
  try {
    for (let start = 0; start < total; start += batchSize) {
      const batch = Array.prototype.slice.call(indices, start, Math.min(total, start + batchSize)) as number[];
      const results = tf.tidy(() => {
        const images = normalizer.normalize(imagesTensor(ds, batch));
        const { features, projection } = encoder.forward(images, false);
        return outputs.map((o) => l2Normalize((o === 'backbone' ? features : projection) as tf.Tensor2D));
      });
      results.forEach((r, i) => parts[i].push(r));
      // Said once the backend has computed the batch, not once it is queued: on a GPU the whole set
      // queues in a moment, and the progress would reach its end minutes before the features.
      // One number read back waits for the batch (the queue runs in order) without copying its features.
      if (onProgress) {
        const computed = tf.slice(results[0], [0, 0], [1, 1]);
        try {
          await computed.data();
        } finally {
          computed.dispose();
        }
        onProgress(Math.min(total, start + batchSize), total);
      }
      await yieldToEventLoop();
    }
    return parts.map((p) => (p.length === 1 ? p.pop()! : tf.concat(p, 0)));
  } finally {
    for (const p of parts) for (const t of p) t.dispose();
    normalizer.dispose();
  }
}

/** A macrotask turn, so that messages (stop, pause) queued during a long computation get handled. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
