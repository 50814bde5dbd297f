import * as tf from '@tensorflow/tfjs';
import type { ImageDataset } from '../data/dataset';
import { IMAGE_BYTES, IMAGE_SIZE } from '../data/dataset';
import { generateSynthetic } from '../data/synthetic';
import { BundleError, modelBundleZip, weightsFromFile } from '../io/modelBundle';
import { SafetensorsError } from '../io/safetensors';
import { architectureMismatch, loadStateDict } from '../io/stateDict';
import { mocoConfig, validateLiveParams, type LiveParams, type MocoConfig } from '../moco/config';
import type { KeyQueue } from '../moco/queue';
import { Trainer, type TrainStepStats } from '../train/trainer';
import {
  QUEUE_RING_SEGMENTS,
  STAT_FIELDS,
  STATS_INTERVAL_MS,
  type BackendInfo,
  type DatasetInfo,
  type DatasetLoaded,
  type DatasetSource,
  type EncoderName,
  type ExportedBundle,
  type InitOptions,
  type LoadProgress,
  type ModelInfo,
  type ParamChange,
  type QueueSnapshot,
  type RunState,
  type RunStatus,
  type StatField,
  type StatsBatch,
  type StepRecord,
  type TrainingApi,
  type TrainingSetup,
} from './api';
import { errorMessage, selectBackend } from './backend';
import { checkTrainable, describeDataset, loadUserFiles, PROGRESS_INTERVAL_MS, throttleProgress, type UserDataset } from './datasets';
import { Evaluation } from './evaluation';
import type { AugmentationPreview, EmbeddingView, EvaluationEvent, EvaluationSettings, KnnResult, NeighboursResult, ProbeResult } from './evaluationApi';
import { StatsBatcher, systemClock, type BatcherClock } from './statsBatcher';

/** Held-out images generated for the built-in dataset (its test split). */
export const BUILT_IN_HELD_OUT_SIZE = 1000;

/** Lets queued messages (comlink calls) run, without the 4 ms clamp of nested timeouts. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * The training core behind `TrainingApi`: what the Worker exposes. It holds no reference to the
 * page; it runs wherever tfjs does (the Worker in the app, Node in tests).
 *
 * Every use of the model (a step, a parameter change, an export) runs under one lock, in turn, so
 * a call that arrives while a step is in flight takes effect between that step and the next.
 */
export class TrainingService implements TrainingApi {
  private onStats: (batch: StatsBatch) => void = () => {};
  private backend: BackendInfo | null = null;
  private setup: TrainingSetup | null = null;
  /** The training images and the held-out images that evaluation (kNN, probe, embedding view) reads. */
  private dataset: { key: string; data: ImageDataset; heldOut: ImageDataset } | null = null;
  /** The user's files once read (setup.dataset 'files' trains on them); kept across reset(). */
  private userData: (UserDataset & { key: string }) | null = null;
  private loadsStarted = 0;
  private loadsInFlight = 0;
  private trainer: Trainer | null = null;
  private runId = 0;
  private state: RunState = 'idle';
  private error: string | null = null;
  private elapsedBefore = 0;
  private runningSince: number | null = null;
  private loop: Promise<void> | null = null;
  private stopRequested = false;
  private lock: Promise<unknown> = Promise.resolve();
  private changes: ParamChange[] = [];
  private readonly batcher: StatsBatcher<StepRecord>;
  /** The last kNN and probe figures, written into the downloaded metadata.json when they are of the current run. */
  private readonly lastFigures: { knn: KnnResult | null; probe: ProbeResult | null } = { knn: null, probe: null };
  /** kNN monitor, probe, embedding view, neighbours, augmentation preview: under the same lock as the steps. */
  private readonly evaluation = new Evaluation({
    trainer: () => this.trainer,
    heldOut: () => this.heldOutDataset(),
    runId: () => this.runId,
    exclusive: (fn) => this.exclusive(fn),
    stopping: () => this.stopRequested,
  });

  constructor(
    private readonly clock: BatcherClock = systemClock,
    private readonly chooseBackend: (options?: InitOptions) => Promise<BackendInfo> = (o) => selectBackend(o?.backends),
  ) {
    this.batcher = new StatsBatcher((records) => this.emit(records), STATS_INTERVAL_MS, clock);
  }

  async init(onStats: (batch: StatsBatch) => void, options?: InitOptions): Promise<BackendInfo> {
    this.onStats = onStats;
    this.backend ??= await this.chooseBackend(options);
    return this.backend;
  }

  async configure(setup: TrainingSetup): Promise<ModelInfo> {
    validateLiveParams(setup.params);
    if (setup.dataset === 'files' && !this.userData) throw new Error('no files are loaded: load a dataset first');
    await this.pause();
    return this.exclusive(() => {
      const start = this.clock.now();
      this.trainer?.dispose();
      this.trainer = null;
      this.batcher.clear();
      this.changes = [];
      this.runId++;
      this.state = 'idle';
      this.error = null;
      this.elapsedBefore = 0;
      this.runningSince = null;
      this.setup = { ...setup, params: { ...setup.params } };
      const trainer = new Trainer(configOf(setup), this.datasetFor(setup));
      this.trainer = trainer;
      this.batcher.flush(true);
      return {
        parameterCount: trainer.moco.encoderQ.parameterCount(),
        batchesPerEpoch: trainer.batchesPerEpoch,
        datasetName: trainer.dataset.name,
        datasetSize: trainer.dataset.size,
        setupMs: this.clock.now() - start,
      };
    });
  }

  async start(): Promise<void> {
    if (this.loop && !this.stopRequested) return;
    await this.loop;
    const setup = this.requireSetup();
    if (!this.trainer) await this.configure(setup);
    if (this.budgetReached()) return;
    this.state = 'running';
    this.error = null;
    this.stopRequested = false;
    this.runningSince = this.clock.now();
    this.batcher.flush(true);
    this.loop = this.runLoop();
  }

  async pause(): Promise<void> {
    if (!this.loop) return;
    this.stopRequested = true;
    await this.loop;
  }

  async step(): Promise<StepRecord> {
    if (this.loop) throw new Error('training is running: pause it before stepping');
    const setup = this.requireSetup();
    if (!this.trainer) await this.configure(setup);
    const start = this.clock.now();
    try {
      const record = await this.exclusive(() => this.trainOneStep(() => this.elapsedBefore + (this.clock.now() - start)));
      this.elapsedBefore = record.elapsedMs;
      this.state = this.budgetReached() ? 'finished' : 'paused';
      // Not awaited: the step's statistics go out now; a due kNN run follows under the lock.
      void this.evaluation.afterStep();
      return record;
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      this.batcher.flush(true);
    }
  }

  async reset(): Promise<ModelInfo> {
    return this.configure(this.requireSetup());
  }

  async setParams(params: Partial<LiveParams>): Promise<ParamChange> {
    validateLiveParams(params);
    return this.exclusive(() => {
      const setup = this.requireSetup();
      this.trainer?.setParams(params);
      Object.assign(setup.params, params);
      const fromStep = (this.trainer?.moco.stepCount ?? 0) + 1;
      const last = this.changes.at(-1);
      // Changes that land between the same two steps make one marker.
      if (last && last.fromStep === fromStep) Object.assign(last.params, params);
      else this.changes.push({ runId: this.runId, fromStep, params: { ...params } });
      this.batcher.flush(true);
      return { runId: this.runId, fromStep, params: { ...params } };
    });
  }

  /** The weights as one zip: TensorFlow.js model, safetensors for PyTorch, metadata.json (io/modelBundle). */
  async exportWeights(options: { includeKey: boolean }): Promise<ExportedBundle> {
    return this.exclusive(async () => {
      const trainer = this.requireTrainer();
      const current = <T extends { runId: number }>(r: T | null) => (r && r.runId === this.runId ? r : null);
      return modelBundleZip(trainer.moco.encoderQ, options.includeKey ? trainer.moco.encoderK : null, {
        config: trainer.config,
        liveParams: { ...trainer.moco.params },
        step: trainer.moco.stepCount,
        dataset: trainer.dataset.name,
        classNames: trainer.dataset.classNames,
        knn: current(this.lastFigures.knn),
        probe: current(this.lastFigures.probe),
      });
    });
  }

  /**
   * A new run (the current setup) starting from the weights of a file: the downloaded zip or a
   * safetensors file (also one PyTorch wrote). The file is checked first: a bad one, or one of
   * another preset or head, changes nothing.
   */
  async loadWeights(bytes: Uint8Array, fileName: string): Promise<ModelInfo> {
    const setup = this.requireSetup();
    let tensors;
    try {
      tensors = weightsFromFile(bytes);
    } catch (e) {
      if (e instanceof SafetensorsError || e instanceof BundleError) throw new Error(`${fileName}: ${e.message} (give the downloaded zip or a .safetensors file)`);
      throw e;
    }
    const mismatch = architectureMismatch(tensors, configOf(setup).arch);
    if (mismatch) throw new Error(`${fileName} ${mismatch}: choose its preset and MoCo version in the setup, Reset, then load it again`);
    const model = await this.configure(setup);
    await this.exclusive(async () => {
      const { encoderQ, encoderK } = this.requireTrainer().moco;
      loadStateDict(encoderQ, tensors);
      // MoCo's momentum encoder starts as a copy of the query encoder.
      encoderK.copyFrom(encoderQ);
    });
    return model;
  }

  async embed(images: Float32Array, which: EncoderName): Promise<Float32Array> {
    const n = images.length / IMAGE_BYTES;
    if (!Number.isInteger(n) || n < 1) throw new Error(`embed: expected n × ${IMAGE_SIZE} × ${IMAGE_SIZE} × 3 values, got ${images.length}`);
    return this.exclusive(async () => {
      const moco = this.requireTrainer().moco;
      const encoder = which === 'key' ? moco.encoderK : moco.encoderQ;
      const out = tf.tidy(() => encoder.embed(tf.tensor4d(images, [n, IMAGE_SIZE, IMAGE_SIZE, 3]), false));
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    });
  }

  async loadDataset(source: DatasetSource, onProgress?: (progress: LoadProgress) => void): Promise<DatasetLoaded> {
    this.requireSetup();
    this.loadsInFlight++;
    try {
      if (source.kind === 'builtin') {
        const model = await this.configure({ ...this.requireSetup(), dataset: 'synthetic' });
        this.userData = null;
        return { dataset: this.datasetInfoNow()!, model };
      }
      // Read while training goes on: the run is only paused (by configure) once every file has parsed.
      const progress = onProgress && throttleProgress(onProgress, PROGRESS_INTERVAL_MS, () => this.clock.now());
      const loaded = await loadUserFiles(source.files, { labels: source.labels, onProgress: progress });
      checkTrainable(loaded, this.requireSetup().batchSize);
      this.userData = { ...loaded, key: `files:${++this.loadsStarted}` };
      // A new dataset means a new run: the same setup and live parameters, a fresh model, as reset() gives.
      const model = await this.configure({ ...this.requireSetup(), dataset: 'files' });
      return { dataset: this.datasetInfoNow()!, model };
    } finally {
      this.loadsInFlight--;
    }
  }

  async datasetInfo(): Promise<DatasetInfo | null> {
    return this.datasetInfoNow();
  }

  async onEvaluation(listener: (event: EvaluationEvent) => void): Promise<void> {
    this.evaluation.subscribe((event) => {
      if (event.type === 'knn') this.lastFigures.knn = event.result;
      listener(event);
    });
  }

  async setEvaluation(settings: Partial<EvaluationSettings>): Promise<EvaluationSettings> {
    return this.evaluation.configure(settings);
  }

  async evaluateKnn(): Promise<KnnResult> {
    return (this.lastFigures.knn = await this.evaluation.evaluateKnn());
  }

  async trainProbe(options: { epochs: number }): Promise<ProbeResult> {
    return (this.lastFigures.probe = await this.evaluation.trainProbe(options));
  }

  embeddingView(): Promise<EmbeddingView> {
    return this.evaluation.embeddingView();
  }

  neighbours(heldOutIndex: number): Promise<NeighboursResult> {
    return this.evaluation.neighbours(heldOutIndex);
  }

  augmentationPreview(count: number): Promise<AugmentationPreview> {
    return this.evaluation.augmentationPreview(count);
  }

  private datasetInfoNow(): DatasetInfo | null {
    const current = this.dataset;
    if (!current) return null;
    const files = this.userData;
    if (files?.key === current.key) {
      const { name, format, labels, heldOutFrom } = files;
      return describeDataset(current.data, current.heldOut, { source: 'files', name, format, labels, heldOutFrom });
    }
    return describeDataset(current.data, current.heldOut, { source: 'synthetic', name: 'Built-in shapes', format: 'builtin', labels: null, heldOutFrom: 'generated' });
  }

  /** The status as the page sees it (also sent with every batch). */
  status(): RunStatus {
    return {
      state: this.state,
      runId: this.runId,
      step: this.trainer?.moco.stepCount ?? 0,
      elapsedMs: this.elapsed(),
      stepBudget: this.setup?.stepBudget ?? 0,
      error: this.error,
    };
  }

  dispose(): void {
    this.stopRequested = true;
    this.batcher.clear();
    this.evaluation.dispose();
    this.trainer?.dispose();
    this.trainer = null;
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopRequested) {
        await this.exclusive(() => this.trainOneStep(() => this.elapsed()));
        await this.evaluation.afterStep();
        if (this.budgetReached()) {
          this.state = 'finished';
          break;
        }
        // Between steps, let queued calls (pause, setParams, export) in.
        await yieldToEventLoop();
      }
      if (this.state === 'running') this.state = 'paused';
    } catch (e) {
      this.fail(e);
    } finally {
      this.elapsedBefore = this.elapsed();
      this.runningSince = null;
      this.loop = null;
      this.stopRequested = false;
      this.batcher.flush(true);
    }
  }

  private async trainOneStep(elapsed: () => number): Promise<StepRecord> {
    const trainer = this.requireTrainer();
    const negatives = trainer.moco.queue.filled;
    const s = await trainer.step();
    const record = toRecord(s, negatives, elapsed());
    this.batcher.push(record);
    return record;
  }

  private emit(records: StepRecord[]): void {
    const columns = {} as Record<StatField, Float64Array>;
    for (const field of STAT_FIELDS) {
      const column = new Float64Array(records.length);
      records.forEach((r, i) => (column[i] = r[field]));
      columns[field] = column;
    }
    const setup = this.setup;
    const batch: StatsBatch = {
      status: this.status(),
      count: records.length,
      columns,
      paramChanges: this.changes,
      queue: this.trainer ? queueSnapshot(this.trainer.moco.queue) : emptyQueue(setup?.params.queueSize ?? 0),
      params: setup ? { ...setup.params } : { momentum: 0, queueSize: 0, temperature: 0, learningRate: 0 },
    };
    this.changes = [];
    this.onStats(batch);
  }

  private exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private elapsed(): number {
    return this.elapsedBefore + (this.runningSince === null ? 0 : this.clock.now() - this.runningSince);
  }

  private budgetReached(): boolean {
    const budget = this.setup?.stepBudget ?? 0;
    return budget > 0 && (this.trainer?.moco.stepCount ?? 0) >= budget;
  }

  private fail(e: unknown): void {
    this.state = 'error';
    this.error = errorMessage(e);
  }

  private requireSetup(): TrainingSetup {
    if (!this.setup) throw new Error('configure() first');
    return this.setup;
  }

  private requireTrainer(): Trainer {
    if (!this.trainer) throw new Error('no model yet: configure() first');
    return this.trainer;
  }

  private datasetFor(setup: TrainingSetup): ImageDataset {
    if (setup.dataset === 'files') {
      const { key, train, heldOut } = this.userData!;
      this.dataset = { key, data: train, heldOut };
      return train;
    }
    // Back on the built-in data: the user's files (up to 180 MB for CIFAR-10) go, unless a load is about to use them.
    if (this.loadsInFlight === 0) this.userData = null;
    const key = `${setup.dataset}:${setup.datasetSize}:${setup.seed}`;
    if (this.dataset?.key !== key) {
      this.dataset = null;
      this.dataset = {
        key,
        data: generateSynthetic({ size: setup.datasetSize, seed: setup.seed, split: 'train' }),
        heldOut: generateSynthetic({ size: BUILT_IN_HELD_OUT_SIZE, seed: setup.seed, split: 'test' }),
      };
    }
    return this.dataset.data;
  }

  /** Held-out images for evaluation; null before the first configure(). */
  protected heldOutDataset(): ImageDataset | null {
    return this.dataset?.heldOut ?? null;
  }
}

/** The MoCo configuration of an app setup: its preset and method with the live parameters' start values. */
export function configOf(setup: TrainingSetup): MocoConfig {
  const { params } = setup;
  return mocoConfig(setup.version, setup.preset, {
    batchSize: setup.batchSize,
    queueSize: params.queueSize,
    momentum: params.momentum,
    temperature: params.temperature,
    seed: setup.seed,
    schedule: { baseLr: params.learningRate, totalSteps: setup.stepBudget },
  });
}

function toRecord(s: TrainStepStats, negatives: number, elapsedMs: number): StepRecord {
  return {
    step: s.step,
    epoch: s.epoch,
    imagesSeen: s.imagesSeen,
    loss: s.loss,
    contrastiveAccuracy: s.contrastiveAccuracy,
    meanPositiveSimilarity: s.meanPositiveSimilarity,
    meanNegativeSimilarity: s.meanNegativeSimilarity,
    negatives,
    queueFilled: s.queueFilled,
    queueCapacity: s.queueCapacity,
    meanKeyAge: s.meanKeyAge,
    learningRate: s.learningRate,
    momentum: s.momentum,
    temperature: s.temperature,
    stepMs: s.stepMs,
    imagesPerSecond: s.imagesPerSecond,
    liveTensors: s.liveTensors,
    elapsedMs,
  };
}

function emptyQueue(capacity: number): QueueSnapshot {
  const segments = Math.max(1, Math.min(QUEUE_RING_SEGMENTS, capacity));
  return { capacity, filled: 0, segmentFill: new Float32Array(segments), segmentAge: new Float32Array(segments).fill(-1), writeSegment: 0 };
}

/** The queue reduced to a ring of at most QUEUE_RING_SEGMENTS segments, for the diagram. */
export function queueSnapshot(queue: KeyQueue): QueueSnapshot {
  const slots = queue.slotSteps();
  const capacity = slots.length;
  const filled = queue.filled;
  const snapshot = emptyQueue(capacity);
  snapshot.filled = filled;
  let newest = -1;
  for (const s of slots) if (s > newest) newest = s;
  const segments = snapshot.segmentFill.length;
  for (let seg = 0; seg < segments; seg++) {
    const from = Math.floor((seg * capacity) / segments);
    const to = Math.floor(((seg + 1) * capacity) / segments);
    let count = 0;
    let ageSum = 0;
    for (let i = from; i < to; i++) {
      if (slots[i] < 0) continue;
      count++;
      ageSum += newest - slots[i];
    }
    snapshot.segmentFill[seg] = to > from ? count / (to - from) : 0;
    snapshot.segmentAge[seg] = count > 0 ? ageSum / count : -1;
  }
  // Slots [0, filled) hold keys and the write pointer only wraps once the queue is full; then it
  // sits just after the newest keys.
  let pointer = filled % capacity;
  if (filled === capacity && newest >= 0) {
    for (let i = 0; i < capacity; i++) {
      if (slots[i] === newest && slots[(i + 1) % capacity] !== newest) {
        pointer = (i + 1) % capacity;
        break;
      }
    }
  }
  snapshot.writeSegment = Math.min(segments - 1, Math.floor((pointer * segments) / capacity));
  return snapshot;
}
