/**
 * The data of the evaluation that crosses the Worker boundary (kNN monitor, linear probe, embedding
 * view, nearest neighbours, augmentation preview). Types and plain constants only: the page imports
 * them without tfjs.
 *
 * Every result names the run (`runId`) and the step whose model produced it, so that the page can
 * drop results of an older run and say how stale a view is.
 */

/** Settings of the evaluation that runs alongside training. */
export interface EvaluationSettings {
  /** The kNN monitor runs after every step whose number is a multiple of this; 0 turns it off. */
  knnEvery: number;
}

export interface ClassAccuracy {
  correct: number;
  total: number;
  /** NaN for a class without held-out images. */
  accuracy: number;
}

/** Weighted kNN (k 200, t 0.1): held-out images against the training set under the test transform. */
export interface KnnResult {
  runId: number;
  step: number;
  /** Top-1 accuracy on the held-out images, 0..1. */
  accuracy: number;
  perClass: ClassAccuracy[];
  classNames: string[];
  k: number;
  t: number;
  bankSize: number;
  queryCount: number;
  /** Wall time of the evaluation: features of bank and queries, and the votes. */
  seconds: number;
  /** The periodic monitor, or an explicit call. */
  trigger: 'monitor' | 'manual';
}

export type EvaluationTask = 'knn' | 'probe' | 'embedding' | 'neighbours';

export interface EvaluationProgress {
  runId: number;
  step: number;
  task: EvaluationTask;
  /** What is being done, e.g. "features of the training set". */
  phase: string;
  /** Which phase of the task this is (1-based), of `phaseCount`. */
  phaseNumber: number;
  phaseCount: number;
  done: number;
  total: number;
  /** Estimated seconds left in this phase, from its pace so far; null until it can be told. */
  secondsLeft: number | null;
}

/** What the Worker pushes to the page besides the statistics batches. */
export type EvaluationEvent =
  | { type: 'knn'; result: KnnResult }
  /** A probe result the page did not ask for: a resumed run's latest. */
  | { type: 'probe'; result: ProbeResult }
  | { type: 'progress'; progress: EvaluationProgress }
  /** A periodic kNN run failed; training goes on. */
  | { type: 'error'; runId: number; step: number; message: string };

/** Softmax regression on frozen backbone features of the training set, scored on the held-out images. */
export interface ProbeResult {
  runId: number;
  step: number;
  epochs: number;
  /** Top-1 accuracy on the held-out images, 0..1. */
  accuracy: number;
  perClass: ClassAccuracy[];
  classNames: string[];
  /** Mean training loss of the last epoch. */
  finalLoss: number;
  trainSize: number;
  testSize: number;
  featureDim: number;
  /** Features and probe training together. */
  seconds: number;
}

/** Held-out backbone features, PCA to 2-D. */
export interface EmbeddingView {
  runId: number;
  step: number;
  /** `[n × 2]` row-major, point i is held-out image i. */
  points: Float32Array;
  labels: Uint8Array;
  classNames: string[];
  /** The held-out images' pixels, RGB, 32 × 32 × 3 bytes each in point order: what hovering a point shows. */
  images: Uint8Array<ArrayBuffer>;
  /** Share of the total variance along each of the two axes. */
  explainedVariance: [number, number];
  featureDim: number;
  seconds: number;
}

/** A 32 × 32 image as RGBA bytes (ImageData's layout). */
export interface Thumbnail {
  /** Index of the image in its dataset. */
  index: number;
  label: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

export interface NeighboursResult {
  runId: number;
  step: number;
  /** The held-out image asked about. */
  query: Thumbnail;
  /** Training images, most similar first. */
  neighbours: (Thumbnail & { similarity: number })[];
  classNames: string[];
}

export interface AugmentationPair {
  /** Index of the image in the training set. */
  index: number;
  label: number;
  original: Uint8ClampedArray<ArrayBuffer>;
  /** The two views, de-normalised to RGBA for display. */
  views: [Uint8ClampedArray<ArrayBuffer>, Uint8ClampedArray<ArrayBuffer>];
}

/**
 * Images of the batch the last step trained on, each with the two augmented views that step drew
 * (the model keeps the step's random draws): the very views the query and key encoders saw.
 */
export interface AugmentationPreview {
  runId: number;
  step: number;
  /** The step whose batch these images are. */
  batchStep: number;
  pairs: AugmentationPair[];
  classNames: string[];
  /** Side of each image in pixels. */
  size: number;
}

/** Neighbours returned by `neighbours()`. */
export const NEIGHBOUR_COUNT = 8;
/**
 * Defaults of the kNN monitor interval. A real GPU steps many times a second and extracts features
 * of thousands of images in about a second. On SwiftShader (2 shared cores) a tiny-preset step of
 * 8 images took about 3.4 s and one kNN run over 2,000 images (1,000 bank, 1,000 held-out) 105 s:
 * every 50 steps the monitor would take as long as the training itself, every 100 about a third.
 */
export const KNN_EVERY_GPU = 200;
export const KNN_EVERY_SOFTWARE = 100;
