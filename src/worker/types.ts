/**
 * The data of training that crosses the Worker boundary: setup, statistics batches, datasets,
 * exported weights. The calls themselves are typed from the Worker's code (`TrainingWorkerApi` in
 * ./training.worker). Types and plain constants only: the page imports this without pulling tfjs in.
 */
import type { Cifar100Labels } from '../data/cifar';
import type { LiveParams, MocoVersion } from '../moco/config';
import type { PresetName } from '../moco/resnet';
import type { StatField } from '../train/stepFields';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export const BACKEND_LABELS: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly', cpu: 'CPU' };

export interface BackendInfo {
  /** The tfjs backend that runs the training. */
  backend: BackendName;
  /** Why the backends earlier in the order (WebGPU, WebGL, WebAssembly) are not used; null when WebGPU runs. */
  fallbackReason: string | null;
  /** GPU adapter description when known, e.g. "google swiftshader". */
  adapter: string | null;
  /** How the backend runs where that matters: WebAssembly's "SIMD, 1 thread". */
  detail?: string | null;
}

/**
 * 'synthetic': the built-in generated images; 'files': the user's files, 'sample': the CIFAR-10
 * sample shipped with the app (public/cifar10-sample/), both loaded with `loadDataset`.
 */
export type DatasetName = 'synthetic' | 'files' | 'sample';

/**
 * The name of the error `loadDataset` rejects with when data chosen after it replaced it: no
 * problem of the user's, not one to show. The page knows it by this name, which crosses the Worker
 * boundary (comlink keeps an error's name and message, not its class).
 */
export const LOAD_SUPERSEDED = 'LoadSuperseded';

/** A data load replaced by a later choice before it built a run (see `LOAD_SUPERSEDED`). */
export class LoadSuperseded extends Error {
  override readonly name = LOAD_SUPERSEDED;
}

/** Whether `e` is a `LoadSuperseded`, also as comlink rebuilds it on the page's side. */
export function isLoadSuperseded(e: unknown): boolean {
  return e instanceof Error && e.name === LOAD_SUPERSEDED;
}

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
 * What the user picked or dropped: the files, and the folders the browser listed, relative like the
 * files' paths (`photos`, `photos/cats`, `photos/empty`). A dropped folder lists its folders, empty
 * ones included; a folder picker gives files only (`folders` is then empty), so a class folder
 * without images can be reported only for a drop.
 */
export interface DataSelection {
  files: DataFile[];
  folders: string[];
}

/**
 * What `loadDataset` loads: the built-in dataset, or the user's files — CIFAR-10/100 `.bin` files,
 * one `cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz`, or a folder of images with one
 * sub-folder per class.
 */
export type DatasetSource =
  | { kind: 'builtin' }
  | {
      kind: 'files';
      files: DataFile[];
      /** The folders listed with the files (DataSelection): a class folder without images among them is reported. */
      folders?: string[];
      labels: Cifar100Labels;
    }
  /** `url`: the sample's folder as the page sees it (absolute), e.g. http://localhost:5173/cifar10-sample/. */
  | { kind: 'sample'; url: string };

/** How a load came to be asked for, beside what it loads (`TrainingService.loadDataset`). */
export interface LoadOptions {
  /**
   * What the data is read for when the user did not choose it in the Data panel ("the classroom
   * replay's final model"): a load of the user's that it replaces rejects saying so, and how to get
   * theirs back, rather than as replaced by a choice of their own.
   */
  chosenBy?: string;
}

/** Where the app serves the CIFAR-10 sample (public/cifar10-sample/), relative to its base URL. */
export const SAMPLE_FOLDER = 'cifar10-sample/';

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
  /** A file or folder name, "CIFAR-10 sample" or "Built-in shapes". */
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
  /** What the loader left out or doubts but trains with (empty class folders, skipped links, a single class); empty when none. */
  warnings: string[];
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
  /** The run's last save to the browser's storage (the app saves by itself); null before the first. */
  save?: SaveStatus | null;
  /** The run's `SavedRun.runKey`: the saved run that is this run (the saved-runs list does not draw it over itself). */
  runKey?: string;
  /** Training went wrong (a NaN or infinite loss) and stopped; `restoreGoodState()` goes back. */
  diverged?: Divergence | null;
  /** The loss is far above ln(K+1) but finite: training goes on, warned; null once a step's loss is back below the threshold. */
  lossWarning?: LossWarning | null;
  /** The GPU reported errors that no error scope caught, and the device was not lost: training goes on, warned; null: none in this run. */
  gpuError?: GpuErrorWarning | null;
  /**
   * The WebGPU device was lost and automatic recovery did not happen or failed (what happened,
   * what to do); `continueOnCpu()` (the fallback) or a new Worker goes on.
   */
  gpuLost?: string | null;
  /** The latest recovery from a lost WebGPU device, which the Worker did by itself; null: none. */
  deviceRecovery?: DeviceRecovery | null;
}

/** The Worker recovering from a lost WebGPU device by itself: a new backend, the last good state, training resumed. */
export interface DeviceRecovery {
  /** Counts this Worker's recoveries, so that the page tells each once. */
  id: number;
  /** 'recovering' while the backend and the run are being rebuilt. */
  phase: 'recovering' | 'done';
  /** The browser's words for the loss: "destroyed", "lost: …". */
  lost: string;
  /** The step the run had reached when the device was lost. */
  lostAtStep: number;
  /** Once done: the step training goes on from (the last good state's; 0: a fresh model), and the backend it runs on. */
  fromStep: number | null;
  backend: BackendInfo | null;
  /** Training was running when the device was lost, and goes on by itself. */
  resumed: boolean;
}

/** A step that went wrong: training stopped before the next one, and the model before it is kept. */
export interface Divergence {
  /** NaN or infinite loss or similarities: the weights are broken. (A finite blow-up is a `LossWarning`: training goes on.) */
  kind: 'non-finite';
  /** The step that went wrong. */
  step: number;
  /** What happened and the knob to change (by the sliders' names). */
  message: string;
  /** The step of the last good state that `restoreGoodState()` brings back (0: a fresh model of the same setup). */
  restoreStep: number;
}

/**
 * A finite loss far above ln(K+1), the loss of a guess among K+1 keys (a tiny temperature, a high
 * learning rate): training goes on, as the headless trainer's does, and the page warns. One warning
 * per stretch of such steps; it ends (null) at the first step whose loss is back below the threshold.
 */
export interface LossWarning {
  kind: 'blow-up';
  /** The first step of this stretch above the threshold. */
  fromStep: number;
  /** The latest step above it, and how many steps of the stretch were. */
  step: number;
  steps: number;
  /** The latest such step's loss and the settings it ran with, the knob to change, and that training goes on. */
  message: string;
}

/**
 * Errors the GPU reported outside any error scope (a validation or out-of-memory error), while the
 * device stayed: the commands that failed were dropped, so the steps around them may be wrong.
 * Training goes on (a loss that turns NaN still stops it); the page says what happened and what to do.
 */
export interface GpuErrorWarning {
  /** The step the run had reached at the first and the latest error, and how many errors. */
  firstStep: number;
  step: number;
  count: number;
  /** The latest error in the browser's words, first line. */
  error: string;
  /** What happened and what to do. */
  message: string;
}

/** How the last automatic save went: `error` says why the latest attempt failed (the save at `step` is kept). */
export interface SaveStatus {
  /** The step of the save in storage (0: none yet). */
  step: number;
  /** Date.now() of that save. */
  savedAt: number;
  error: string | null;
  /**
   * The last save's cost, measured in the Worker: `blockedMs` while it held training (encoding the
   * checkpoint, between two steps), `writeMs` writing it to storage while training went on.
   */
  blockedMs?: number;
  writeMs?: number;
}

/** A run saved in the browser's storage (IndexedDB), as the list shows it. */
export interface SavedRun {
  id: string;
  /** The same for every save of one run: a new save replaces the run's older one. */
  runKey: string;
  savedAt: number;
  step: number;
  preset: PresetName;
  version: MocoVersion;
  batchSize: number;
  dataset: DatasetName;
  datasetName: string;
  datasetSize: number;
  /** Size of the checkpoint in bytes. */
  bytes: number;
  /** The last kNN accuracy (0..1), null when none ran. */
  lastKnn: number | null;
  /** The live parameters at the save (m, K, T, learning rate) and the seed: what tells two runs of one setup apart. Absent in saves made before the list showed them. */
  params?: LiveParams;
  seed?: number;
  /** The name the user gave the run; later saves of the run keep it. */
  name?: string;
}

/** A saved run resumed: the model and the setup it was trained with (the page's form follows it). */
export interface ResumedRun {
  model: ModelInfo;
  setup: TrainingSetup;
  run: SavedRun;
}

/** Training time between two in-memory restore points (the last good state if a step goes wrong). */
export const RESTORE_POINT_INTERVAL_MS = 10_000;

/** Training time between two automatic saves (and a save on every pause). */
export const AUTOSAVE_INTERVAL_MS = 30_000;

/** Per-step statistics, one column each in a `StatsBatch` (the same list a recording keeps). */
export { STAT_FIELDS, type StatField, type StepRecord } from '../train/stepFields';

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
/** "Download weights": one zip (io/modelBundle), named after the preset and step. */
export interface ExportedBundle {
  name: string;
  zip: Uint8Array<ArrayBuffer>;
}

export interface InitOptions {
  /** Try only these backends, in order (default webgpu, webgl, wasm, cpu). */
  backends?: BackendName[];
  /** Save the run every this many ms of training (default AUTOSAVE_INTERVAL_MS; `?autosave=SECONDS` for measurements). */
  autosaveEveryMs?: number;
  /** Number runs after this one (a Worker restarted after the last one ended). */
  runIdAfter?: number;
  /** The page runs with `?testHooks`: `destroyGpuDevice()` and `crashWorker()` may be called. */
  testHooks?: boolean;
}

export { MAX_QUEUE_SIZE } from '../moco/config';
export const QUEUE_RING_SEGMENTS = 96;
/** Batches go out at most this often while training. */
export const STATS_INTERVAL_MS = 250;
