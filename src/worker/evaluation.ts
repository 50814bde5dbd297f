import * as tf from '@tensorflow/tfjs';
import { IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from '../data/dataset';
import { imagesTensor } from '../data/tensors';
import { extractFeatures } from '../eval/features';
import { evaluateKnn, KNN_K, KNN_T } from '../eval/knn';
import { nearestNeighbours } from '../eval/neighbours';
import { pca2d } from '../eval/pca';
import { LinearProbe } from '../eval/probe';
import { applyAugment, type AugmentConfig } from '../moco/augment';
import type { Trainer } from '../train/trainer';
import {
  NEIGHBOUR_COUNT,
  type AugmentationPreview,
  type EmbeddingView,
  type EvaluationEvent,
  type EvaluationSettings,
  type EvaluationTask,
  type KnnResult,
  type NeighboursResult,
  type ProbeResult,
  type Thumbnail,
} from './evaluationTypes';

/** What the evaluation needs from the training service, read at call time. */
export interface EvaluationHost {
  /** The model, and with it the training images (`trainer.dataset`): the kNN bank, the probe's training set, the neighbours' bank. */
  trainer(): Trainer | null;
  heldOut(): ImageDataset | null;
  runId(): number;
  /** Runs `fn` under the service's model lock: never inside a step, and no step inside it. */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T>;
  /** True once a pause has been asked for: a periodic kNN run gives up then instead of holding up the pause. */
  stopping(): boolean;
  /** A kNN or probe result joined the run's history, which its saves keep (called under the lock). */
  recorded?(): void;
}

export const MAX_PREVIEW_PAIRS = 64;
export const MAX_PROBE_EPOCHS = 200;

/** An evaluation given up at its stop request (a pause, a cancelled experiment), between two chunks: nothing is left behind. */
export class Aborted extends Error {
  constructor() {
    super('evaluation aborted');
  }
}

type FeatureSet = 'train' | 'heldOut';

/** The phases the progress reports name. */
const TRAIN_FEATURES = 'features of the training set';
const HELD_OUT_FEATURES = 'features of the held-out images';
const KNN_SCORING = 'scoring (weighted votes)';
const PROBE_EPOCHS = 'probe epochs';
const NEIGHBOUR_SEARCH = 'nearest training images';

/**
 * Backbone features of the training and held-out sets for one model state (trainer and step), kept
 * on the backend between calls: a kNN run, a probe, the embedding view and the neighbours of its
 * points at one step extract them once. The service's next step disposes them.
 */
class FeatureCache {
  private key: { trainer: Trainer; step: number } | null = null;
  private readonly entries = new Map<FeatureSet, { dataset: ImageDataset; features: tf.Tensor2D }>();

  /** The cached features, or null when they belong to another model state or dataset. */
  peek(which: FeatureSet, trainer: Trainer, dataset: ImageDataset): tf.Tensor2D | null {
    if (!this.isCurrent(trainer)) return null;
    const entry = this.entries.get(which);
    return entry && entry.dataset === dataset ? entry.features : null;
  }

  /** Owned by the cache: callers must not dispose it. */
  async get(which: FeatureSet, trainer: Trainer, dataset: ImageDataset, onProgress?: (done: number, total: number) => void): Promise<tf.Tensor2D> {
    const cached = this.peek(which, trainer, dataset);
    if (cached) return cached;
    if (!this.isCurrent(trainer)) this.clear();
    const step = trainer.moco.stepCount;
    onProgress?.(0, dataset.size);
    const features = await extractFeatures(trainer.moco.encoderQ, dataset, trainer.config.augment, { onProgress });
    // Nothing trains while the lock is held, so the model is still the one these features are of.
    this.key = { trainer, step };
    this.entries.get(which)?.features.dispose();
    this.entries.set(which, { dataset, features });
    return features;
  }

  /** Drops features of an older model state (called between steps, so stale ones do not sit in GPU memory). */
  dropStale(trainer: Trainer | null): void {
    if (this.key && (!trainer || !this.isCurrent(trainer))) this.clear();
  }

  clear(): void {
    for (const { features } of this.entries.values()) features.dispose();
    this.entries.clear();
    this.key = null;
  }

  private isCurrent(trainer: Trainer): boolean {
    return this.key !== null && this.key.trainer === trainer && this.key.step === trainer.moco.stepCount;
  }
}

/**
 * The Worker's evaluation: the periodic kNN monitor, and on-demand kNN, linear probe, embedding
 * view, nearest neighbours and augmentation preview. Each runs under the service's lock, so it never
 * overlaps a step; features are extracted in chunks with the event loop running between them, so
 * messages keep arriving: a pause gives up a periodic run at the next chunk, and other calls (a
 * parameter change, an export) wait for the lock and take effect before the next step.
 */
export class Evaluation {
  private listener: (event: EvaluationEvent) => void = () => {};
  private settings: EvaluationSettings = { knnEvery: 0 };
  /** The last model state the monitor evaluated, so that a step is not evaluated twice. */
  private monitored: { runId: number; step: number } | null = null;
  private readonly cache = new FeatureCache();
  /** The last kNN and probe figures, for the downloaded metadata.json (each says its run and step). */
  readonly last: { knn: KnnResult | null; probe: ProbeResult | null } = { knn: null, probe: null };
  /** Every kNN result of the current run, oldest first: what a checkpoint keeps of the evaluation. */
  private knnHistory: KnnResult[] = [];
  /** Every probe result of the current run, oldest first, kept in its checkpoints too. */
  private probeHistory: ProbeResult[] = [];

  constructor(private readonly host: EvaluationHost) {}

  /** Registers the listener (from the page, a comlink proxy) for kNN results, evaluation progress and monitor errors. */
  subscribe(listener: (event: EvaluationEvent) => void): void {
    this.listener = listener;
  }

  /** The periodic kNN monitor's interval; returns the settings in force. */
  async configure(settings: Partial<EvaluationSettings>): Promise<EvaluationSettings> {
    if (settings.knnEvery !== undefined) {
      const every = settings.knnEvery;
      if (!Number.isInteger(every) || every < 0) throw new Error(`knnEvery must be an integer ≥ 0, got ${every}`);
      this.settings.knnEvery = every;
    }
    return { ...this.settings };
  }

  /**
   * Called by the service after each step, outside its lock: runs the kNN monitor when the step is
   * due. Never throws: a failed evaluation is reported and training goes on.
   */
  async afterStep(): Promise<void> {
    this.cache.dropStale(this.host.trainer());
    const every = this.settings.knnEvery;
    const trainer = this.host.trainer();
    if (every <= 0 || !trainer) return;
    const step = trainer.moco.stepCount;
    const runId = this.host.runId();
    if (step === 0 || step % every !== 0 || (this.monitored?.runId === runId && this.monitored.step === step)) return;
    if (!this.host.heldOut()) return;
    try {
      await this.host.exclusive(async () => {
        // The model may have been replaced while this call waited for the lock.
        if (this.host.trainer() !== trainer || trainer.moco.stepCount !== step) return;
        await this.runKnn(trainer, 'monitor', () => this.host.stopping());
      });
    } catch (e) {
      if (e instanceof Aborted) return;
      this.listener({ type: 'error', runId, step, message: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Weighted kNN (k 200, t 0.1) of the held-out images now, between two steps; also sent to the listener. */
  async evaluateKnn(): Promise<KnnResult> {
    return this.evaluateKnnUnless(() => false);
  }

  /**
   * `evaluateKnn`, given up once `stop` says true (asked between chunks of images: an experiment's
   * cancel), rejecting with `Aborted`. For callers in the Worker only, so not served to the page:
   * a callback from there cannot answer synchronously between two chunks.
   */
  async evaluateKnnUnless(stop: () => boolean): Promise<KnnResult> {
    return this.host.exclusive(() => this.runKnn(this.requireTrainer(), 'manual', stop));
  }

  /** A linear probe on frozen backbone features of the training set, scored on the held-out images; no step runs meanwhile. */
  async trainProbe(options: { epochs: number }): Promise<ProbeResult> {
    const { epochs } = options;
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > MAX_PROBE_EPOCHS) throw new Error(`epochs must be an integer in 1..${MAX_PROBE_EPOCHS}, got ${epochs}`);
    return this.host.exclusive(async () => {
      const start = performance.now();
      const trainer = this.requireTrainer();
      const train = trainer.dataset;
      const heldOut = this.requireHeldOut(train);
      const progress = this.progress('probe', trainer, [TRAIN_FEATURES, HELD_OUT_FEATURES, PROBE_EPOCHS]);
      const trainFeatures = await this.cache.get('train', trainer, train, progress(TRAIN_FEATURES));
      const testFeatures = await this.cache.get('heldOut', trainer, heldOut, progress(HELD_OUT_FEATURES));
      const onEpoch = progress(PROBE_EPOCHS);
      const probe = await LinearProbe.train(trainFeatures, train.labels, {
        numClasses: train.classNames.length,
        epochs,
        seed: trainer.config.seed,
        onEpoch: (epoch) => onEpoch(epoch, epochs),
      });
      try {
        const score = await probe.evaluate(testFeatures, heldOut.labels);
        const result: ProbeResult = {
          runId: this.host.runId(),
          step: trainer.moco.stepCount,
          epochs,
          accuracy: score.accuracy,
          perClass: score.perClass,
          classNames: [...train.classNames],
          finalLoss: probe.lossHistory.at(-1) ?? NaN,
          trainSize: train.size,
          testSize: heldOut.size,
          featureDim: trainFeatures.shape[1],
          seconds: (performance.now() - start) / 1000,
        };
        const runId = result.runId;
        this.probeHistory = [...this.probeHistory.filter((r) => r.runId === runId), result];
        this.host.recorded?.();
        return (this.last.probe = result);
      } finally {
        probe.dispose();
      }
    });
  }

  /** Held-out features projected to 2-D by PCA. */
  async embeddingView(): Promise<EmbeddingView> {
    return this.host.exclusive(async () => {
      const start = performance.now();
      const trainer = this.requireTrainer();
      const heldOut = this.requireHeldOut(trainer.dataset);
      const features = await this.cache.get('heldOut', trainer, heldOut, this.progress('embedding', trainer, [HELD_OUT_FEATURES])(HELD_OUT_FEATURES));
      const pca = await pca2d(features);
      const share = (v: number) => (pca.totalVariance > 0 ? v / pca.totalVariance : 0);
      return {
        runId: this.host.runId(),
        step: trainer.moco.stepCount,
        points: pca.points.slice(),
        labels: heldOut.labels.slice(),
        classNames: [...heldOut.classNames],
        images: heldOut.images.slice(),
        explainedVariance: [share(pca.variances[0]), share(pca.variances[1])],
        featureDim: features.shape[1],
        seconds: (performance.now() - start) / 1000,
      };
    });
  }

  /** The nearest training images (cosine similarity of backbone features) to one held-out image, as thumbnails. */
  async neighbours(heldOutIndex: number): Promise<NeighboursResult> {
    return this.host.exclusive(async () => {
      const trainer = this.requireTrainer();
      const train = trainer.dataset;
      const heldOut = this.requireHeldOut(train);
      if (!Number.isInteger(heldOutIndex) || heldOutIndex < 0 || heldOutIndex >= heldOut.size) {
        throw new Error(`held-out image ${heldOutIndex} does not exist: there are ${heldOut.size}`);
      }
      const progress = this.progress('neighbours', trainer, [TRAIN_FEATURES, HELD_OUT_FEATURES, NEIGHBOUR_SEARCH]);
      const bank = await this.cache.get('train', trainer, train, progress(TRAIN_FEATURES));
      // All held-out features, cached for the next click (and the embedding view, which has them
      // already at this step): one image alone is a new batch shape, whose shaders a software
      // renderer compiles for minutes.
      const all = await this.cache.get('heldOut', trainer, heldOut, progress(HELD_OUT_FEATURES));
      const search = progress(NEIGHBOUR_SEARCH);
      search(0, 1);
      const row = tf.tidy(() => all.slice([heldOutIndex, 0], [1, -1]) as tf.Tensor2D);
      let query: Float32Array;
      try {
        query = (await row.data()) as Float32Array;
      } finally {
        row.dispose();
      }
      const near = await nearestNeighbours(query, bank, NEIGHBOUR_COUNT);
      search(1, 1);
      return {
        runId: this.host.runId(),
        step: trainer.moco.stepCount,
        query: thumbnail(heldOut, heldOutIndex),
        neighbours: near.map((n) => ({ ...thumbnail(train, n.index), similarity: n.similarity })),
        classNames: [...train.classNames],
      };
    });
  }

  /** Up to `count` images of the last step's batch with the two views that step trained on. */
  async augmentationPreview(count: number): Promise<AugmentationPreview> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_PREVIEW_PAIRS) throw new Error(`count must be an integer in 1..${MAX_PREVIEW_PAIRS}, got ${count}`);
    return this.host.exclusive(async () => {
      const trainer = this.requireTrainer();
      const batch = trainer.lastBatch;
      const draws = trainer.moco.lastViewDraws;
      if (!batch || !draws) {
        // A run resumed or put back (after an experiment, a replay) has steps but no batch in memory: not "no step yet".
        const at = trainer.moco.stepCount;
        throw new Error(
          at > 0
            ? `no step since this run was loaded at step ${at}: the preview shows the two views of each image of the last step, so take one step (Step) first`
            : 'no step yet: the preview shows the two views of each image of the last step',
        );
      }
      const n = Math.min(count, batch.length);
      const indices = batch.subarray(0, n);
      const cfg = trainer.config.augment;
      // The step's own draws on the step's own batch: the very views the model trained on.
      const views = tf.tidy(() => {
        const images = imagesTensor(trainer.dataset, batch);
        return draws.map((d) => displayBytes(applyAugment(images, d, trainer.moco.augmentation).slice([0, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D, cfg));
      });
      let bytes: [Uint8ClampedArray<ArrayBuffer>, Uint8ClampedArray<ArrayBuffer>];
      try {
        const [a, b] = await Promise.all(views.map((v) => v.data()));
        bytes = [Uint8ClampedArray.from(a), Uint8ClampedArray.from(b)];
      } finally {
        tf.dispose(views);
      }
      const size = 4 * IMAGE_SIZE * IMAGE_SIZE;
      return {
        runId: this.host.runId(),
        step: trainer.moco.stepCount,
        batchStep: trainer.moco.stepCount,
        pairs: Array.from(indices, (index, i) => ({
          index,
          label: trainer.dataset.labels[index],
          original: thumbnail(trainer.dataset, index).rgba,
          views: [bytes[0].slice(i * size, (i + 1) * size), bytes[1].slice(i * size, (i + 1) * size)] as [Uint8ClampedArray<ArrayBuffer>, Uint8ClampedArray<ArrayBuffer>],
        })),
        classNames: [...trainer.dataset.classNames],
        size: IMAGE_SIZE,
      };
    });
  }

  /** The kNN results of the current run, oldest first. */
  knnResults(): KnnResult[] {
    const runId = this.host.runId();
    return this.knnHistory.filter((r) => r.runId === runId);
  }

  /** The probe results of the current run, oldest first. */
  probeResults(): ProbeResult[] {
    const runId = this.host.runId();
    return this.probeHistory.filter((r) => r.runId === runId);
  }

  /**
   * A resumed run's kNN and probe history (already of the current run id); the latest of each
   * becomes `last`, and the listener hears them as if they had just been computed.
   */
  restoreResults(knn: KnnResult[], probes: ProbeResult[]): void {
    this.knnHistory = [...knn];
    this.probeHistory = [...probes];
    this.last.knn = knn.at(-1) ?? null;
    this.last.probe = probes.at(-1) ?? null;
    const latest = knn.at(-1);
    this.monitored = latest ? { runId: latest.runId, step: latest.step } : null;
    for (const result of knn) this.listener({ type: 'knn', result });
    if (this.last.probe) this.listener({ type: 'probe', result: this.last.probe });
  }

  dispose(): void {
    this.cache.clear();
    this.listener = () => {};
  }

  /**
   * The kNN monitor of `knnMonitor` (the same features, votes and score) with the features taken
   * from the cache, so that a probe, an embedding view or neighbours at the same step reuse them.
   */
  private async runKnn(trainer: Trainer, trigger: KnnResult['trigger'], shouldAbort: () => boolean): Promise<KnnResult> {
    const start = performance.now();
    const train = trainer.dataset;
    const heldOut = this.requireHeldOut(train);
    const runId = this.host.runId();
    const step = trainer.moco.stepCount;
    const progress = this.progress('knn', trainer, [TRAIN_FEATURES, HELD_OUT_FEATURES, KNN_SCORING]);
    const abortable = (report: (done: number, total: number) => void) => (done: number, total: number) => {
      // Thrown between two chunks, it unwinds through the extraction's clean-up: nothing is left behind.
      if (shouldAbort()) throw new Aborted();
      report(done, total);
    };
    const bank = await this.cache.get('train', trainer, train, abortable(progress(TRAIN_FEATURES)));
    const queries = await this.cache.get('heldOut', trainer, heldOut, abortable(progress(HELD_OUT_FEATURES)));
    const scoring = abortable(progress(KNN_SCORING));
    scoring(0, heldOut.size);
    const score = await evaluateKnn(bank, train.labels, queries, heldOut.labels, {
      k: KNN_K,
      t: KNN_T,
      numClasses: train.classNames.length,
      onProgress: scoring,
    });
    const result: KnnResult = {
      runId,
      step,
      accuracy: score.accuracy,
      perClass: score.perClass,
      classNames: [...train.classNames],
      k: score.k,
      t: score.t,
      bankSize: score.bankSize,
      queryCount: score.queryCount,
      seconds: (performance.now() - start) / 1000,
      trigger,
    };
    this.monitored = { runId, step };
    this.last.knn = result;
    this.knnHistory = [...this.knnHistory.filter((r) => r.runId === runId), result];
    this.host.recorded?.();
    this.listener({ type: 'knn', result });
    return result;
  }

  /**
   * Progress reporters of one task, one per phase in order: `progress(task, phases)(phase)(done, total)`.
   * Each report carries the time left in its phase, estimated from the pace since the phase began.
   */
  private progress(task: EvaluationTask, trainer: Trainer, phases: readonly string[]) {
    const runId = this.host.runId();
    const step = trainer.moco.stepCount;
    return (phase: string) => {
      const phaseNumber = phases.indexOf(phase) + 1;
      const begun = performance.now();
      const report = (done: number, total: number) => {
        const seconds = (performance.now() - begun) / 1000;
        const secondsLeft = done > 0 && done < total ? (seconds * (total - done)) / done : done >= total ? 0 : null;
        this.listener({ type: 'progress', progress: { runId, step, task, phase, phaseNumber, phaseCount: phases.length, done, total, secondsLeft } });
      };
      return report;
    };
  }

  private requireTrainer(): Trainer {
    const trainer = this.host.trainer();
    if (!trainer) throw new Error('no model yet: configure() first');
    return trainer;
  }

  private requireHeldOut(train: ImageDataset): ImageDataset {
    const heldOut = this.host.heldOut();
    if (!heldOut || heldOut.size === 0) {
      // Loaded files with no test split give each class's images to training when it has only one.
      throw new Error(
        `${train.name} has no held-out images to evaluate on: none is set aside from a class of a single image. Give each class two images or more (or pick a test split with the training files), then load the data again`,
      );
    }
    // Not a user's doing: the held-out images always come with the training images, from one source
    // read with one label choice (worker/datasets.ts): a test split of the same CIFAR format and
    // labels (files of two formats are refused when loaded, an archive's members share its class
    // names), a carved share of the same images or folders, or the built-in set's own. A mismatch
    // is a bug in that loading, said as one.
    if (heldOut.classNames.length !== train.classNames.length) {
      throw new Error(`internal error: the held-out images have ${heldOut.classNames.length} classes, the training images ${train.classNames.length}`);
    }
    return heldOut;
  }
}

/** Normalised views back to display bytes: `[n, h, w, 4]` RGBA in 0..255, opaque. */
function displayBytes(views: tf.Tensor4D, cfg: Pick<AugmentConfig, 'mean' | 'std'>): tf.Tensor4D {
  return tf.tidy(() => {
    const rgb = views.mul(tf.tensor1d([...cfg.std])).add(tf.tensor1d([...cfg.mean])).clipByValue(0, 1).mul(255).round();
    const [n, h, w] = views.shape;
    return tf.concat([rgb, tf.fill([n, h, w, 1], 255)], 3).toInt() as tf.Tensor4D;
  });
}

/** Image `i` of a dataset as RGBA bytes. */
export function thumbnail(ds: ImageDataset, i: number): Thumbnail {
  const rgb = ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
  const rgba = new Uint8ClampedArray(IMAGE_SIZE * IMAGE_SIZE * 4);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgba[q] = rgb[p];
    rgba[q + 1] = rgb[p + 1];
    rgba[q + 2] = rgb[p + 2];
    rgba[q + 3] = 255;
  }
  return { index: i, label: ds.labels[i], rgba };
}
