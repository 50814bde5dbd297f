/**
 * The one typed boundary between the page and the training Worker (comlink, after Squoosh's
 * worker-bridge). The page calls `TrainingApi`'s methods; the Worker answers each call and pushes
 * batched statistics through the callback given to `init`, a few times per second at most.
 *
 * This module holds types and plain constants only: the page imports it without pulling tfjs in.
 */
import type { Cifar100Labels } from '../data/cifar';
import type { LiveParams, MocoVersion } from '../moco/config';
import type { PresetName } from '../moco/resnet';
import type { AugmentationPreview, EmbeddingView, EvaluationEvent, EvaluationSettings, KnnResult, NeighboursResult, ProbeResult } from './evaluationApi';

export type BackendName = 'webgpu' | 'webgl' | 'cpu';

export interface BackendInfo {
  /** The tfjs backend that runs the training. */
  backend: BackendName;
  /** Why a backend earlier in the order (WebGPU, then WebGL) is not used; null when WebGPU runs. */
  fallbackReason: string | null;
  /** GPU adapter description when known, e.g. "google swiftshader". */
  adapter: string | null;
}

/** 'synthetic': the built-in generated images; 'files': the user's files, loaded with `loadDataset`. */
export type DatasetName = 'synthetic' | 'files';

/** One file picked or dropped by the user. */
export interface DataFile {
  /**
   * Path with '/' separators: the file name for single files, the relative path inside a folder
   * (`photos/cats/1.jpg`). A File's own `webkitRelativePath` does not survive postMessage, hence this.
   */
  path: string;
  file: Blob;
}

/**
 * What `loadDataset` loads: the built-in dataset, or the user's files — CIFAR-10/100 `.bin` files,
 * one `cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz`, or a folder of images with one
 * sub-folder per class.
 */
export type DatasetSource = { kind: 'builtin' } | { kind: 'files'; files: DataFile[]; labels: Cifar100Labels };

export interface LoadProgress {
  /** The file being read, or the folder being decoded. */
  file: string;
  done: number;
  total: number;
  /** Bytes of CIFAR files and archives, images of a folder. */
  unit: 'bytes' | 'images';
}

/** The dataset training reads, as the Data panel shows it. */
export interface DatasetInfo {
  source: DatasetName;
  /** A file or folder name, or "Built-in shapes". */
  name: string;
  format: 'builtin' | 'cifar10' | 'cifar100' | 'images';
  /** CIFAR-100's label kind in use; null for other formats. */
  labels: Cifar100Labels | null;
  classNames: string[];
  /** Training images per class, in class order. */
  trainCounts: number[];
  /** Held-out images per class (what the evaluation reads). */
  heldOutCounts: number[];
  trainSize: number;
  heldOutSize: number;
  /**
   * Where the held-out images come from: the archive's or folder's test batch, ~10% of each class
   * set aside from the loaded images, or the built-in dataset's generated test split.
   */
  heldOutFrom: 'test-split' | 'carved' | 'generated';
  /** Up to `perClass` training images of each class as 32×32 RGBA, one after another (transferred). */
  thumbnails: { perClass: number; labels: Uint8Array; pixels: Uint8ClampedArray<ArrayBuffer> };
}

export interface DatasetLoaded {
  dataset: DatasetInfo;
  /** The fresh model, built for the new data with the current setup. */
  model: ModelInfo;
}

/** Everything that needs a fresh model: changing one of these means a reset. */
export interface TrainingSetup {
  version: MocoVersion;
  preset: PresetName;
  batchSize: number;
  dataset: DatasetName;
  /** Training images to generate for the built-in dataset. */
  datasetSize: number;
  /** Stop after this many steps; 0 trains until paused. With MoCo v2 the cosine rate reaches 0 here. */
  stepBudget: number;
  seed: number;
  /** Initial values of the live parameters. */
  params: LiveParams;
}

export interface ModelInfo {
  parameterCount: number;
  batchesPerEpoch: number;
  datasetName: string;
  datasetSize: number;
  /** Milliseconds spent generating the dataset and building the model. */
  setupMs: number;
}

export type RunState = 'idle' | 'running' | 'paused' | 'finished' | 'error';

export interface RunStatus {
  state: RunState;
  /** Increases on every configure/reset: statistics of an older run must be dropped. */
  runId: number;
  /** Steps done in this run. */
  step: number;
  /** Time spent training in this run (pauses excluded). */
  elapsedMs: number;
  stepBudget: number;
  error: string | null;
}

/** Per-step statistics, one column each in a `StatsBatch`. */
export const STAT_FIELDS = [
  'step',
  'epoch',
  'imagesSeen',
  'loss',
  'contrastiveAccuracy',
  'meanPositiveSimilarity',
  'meanNegativeSimilarity',
  /** Negatives this step compared against: the keys in the queue before it. */
  'negatives',
  'queueFilled',
  'queueCapacity',
  'meanKeyAge',
  'learningRate',
  'momentum',
  'temperature',
  'stepMs',
  'imagesPerSecond',
  'liveTensors',
  'elapsedMs',
] as const;

export type StatField = (typeof STAT_FIELDS)[number];
export type StepRecord = Record<StatField, number>;

/** A change of live parameters, in force from step `fromStep` on. */
export interface ParamChange {
  runId: number;
  fromStep: number;
  params: Partial<LiveParams>;
}

/** The queue as the diagram draws it: a ring of segments, in slot order. */
export interface QueueSnapshot {
  capacity: number;
  filled: number;
  /** Per segment: fraction of its slots that hold a key (0..1). */
  segmentFill: Float32Array;
  /** Per segment: mean age in steps of its keys, −1 when it holds none. */
  segmentAge: Float32Array;
  /** Segment that the next keys go to. */
  writeSegment: number;
}

/** What the Worker pushes to the page: the steps since the last batch, as columns, plus the current state. */
export interface StatsBatch {
  status: RunStatus;
  /** Number of steps in `columns` (possibly 0: a batch may only carry a state change). */
  count: number;
  columns: Record<StatField, Float64Array>;
  /** Parameter changes applied since the last batch. */
  paramChanges: ParamChange[];
  queue: QueueSnapshot;
  params: LiveParams;
}

export type EncoderName = 'query' | 'key';

/** The files of one encoder in TensorFlow.js's layers format. */
export interface ExportedModel {
  /** File names: model.json / weights.bin for the query encoder, key-model.json / key-weights.bin for the key encoder. */
  jsonName: string;
  weightsName: string;
  /** `model.json` text; its manifest points at `weightsName`. */
  modelJson: string;
  weights: ArrayBuffer;
}

export interface InitOptions {
  /** Try only these backends, in order (default webgpu, webgl, cpu). */
  backends?: BackendName[];
}

export interface TrainingApi {
  /** Picks the backend and registers the statistics callback (a comlink proxy). Call once, first. */
  init(onStats: (batch: StatsBatch) => void, options?: InitOptions): Promise<BackendInfo>;
  /** Builds the dataset and a fresh model (pausing and discarding the current run). */
  configure(setup: TrainingSetup): Promise<ModelInfo>;
  /** Trains until paused (or until the step budget is reached). */
  start(): Promise<void>;
  /** Resolves once the step in flight has finished and its statistics are sent. */
  pause(): Promise<void>;
  /** One step while paused; returns its statistics. */
  step(): Promise<StepRecord>;
  /** A fresh model with the current setup and parameters. */
  reset(): Promise<ModelInfo>;
  /** Applies from the next step, without restarting; resolves with the change as recorded. */
  setParams(params: Partial<LiveParams>): Promise<ParamChange>;
  /** The query encoder (and optionally the momentum encoder) in the layers format; buffers are transferred. */
  exportWeights(options: { includeKey: boolean }): Promise<ExportedModel[]>;
  /**
   * The L2-normalised embedding (inference mode) of `images` (`[n, 32, 32, 3]` in [0, 1], flat),
   * `[n, dim]` flat: what a downloaded model gives after L2 normalisation.
   */
  embed(images: Float32Array, which: EncoderName): Promise<Float32Array>;
  /**
   * Reads the files (or returns to the built-in dataset) and, once they parse, trains on them: a
   * fresh model with the current setup, as `reset()` builds. Training keeps running while the files
   * are read; on any problem this rejects with a message naming the file, and the dataset, the
   * model and the run are as they were. `onProgress` (a comlink proxy) hears a few times a second.
   */
  loadDataset(source: DatasetSource, onProgress?: (progress: LoadProgress) => void): Promise<DatasetLoaded>;
  /** The dataset training reads now; null before the first configure(). */
  datasetInfo(): Promise<DatasetInfo | null>;
  /** Registers the listener (a comlink proxy) for kNN results, evaluation progress and monitor errors (types in ./evaluationApi). */
  onEvaluation(listener: (event: EvaluationEvent) => void): Promise<void>;
  /** The periodic kNN monitor's interval; returns the settings in force. */
  setEvaluation(settings: Partial<EvaluationSettings>): Promise<EvaluationSettings>;
  /** Weighted kNN (k 200, t 0.1) of the held-out images now, between two steps; also sent to the listener. */
  evaluateKnn(): Promise<KnnResult>;
  /** A linear probe on frozen backbone features of the training set, scored on the held-out images; no step runs meanwhile. */
  trainProbe(options: { epochs: number }): Promise<ProbeResult>;
  /** Held-out features projected to 2-D by PCA. */
  embeddingView(): Promise<EmbeddingView>;
  /** The nearest training images (cosine similarity of backbone features) to one held-out image, as thumbnails (transferred). */
  neighbours(heldOutIndex: number): Promise<NeighboursResult>;
  /** Up to `count` images of the last step's batch with two augmented views each (transferred). */
  augmentationPreview(count: number): Promise<AugmentationPreview>;
}

/** The queue limit lives with the configuration's validation, which every path runs. */
export { MAX_QUEUE_SIZE } from '../moco/config';
export const QUEUE_RING_SEGMENTS = 96;
/** Batches go out at most this often while training. */
export const STATS_INTERVAL_MS = 250;
