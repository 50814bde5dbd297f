/**
 * Training in the Worker: the run loop and the calls that use the model (configure, step,
 * parameter changes, export, embedding, loading the user's files), one at a time under one lock.
 * It holds no reference to the page; it runs wherever tfjs does (the Worker in the app, Node in tests).
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageDataset } from '../data/dataset';
import { IMAGE_BYTES, IMAGE_SIZE } from '../data/dataset';
import { SAMPLE_TRAIN_NAME } from '../data/cifarSample';
import { BundleError, modelBundleZip, weightsFromFile } from '../io/modelBundle';
import { SafetensorsError } from '../io/safetensors';
import { architectureMismatch, loadStateDict } from '../io/stateDict';
import { mocoConfig, validateLiveParams, type LiveParams, type MocoConfig } from '../moco/config';
import {
  CheckpointError,
  datasetIdentity,
  datasetMismatch,
  decodeCheckpoint,
  decodeCheckpointManifest,
  encodeCheckpoint,
  restoreTrainer,
  type Checkpoint,
  type DatasetIdentity,
  type KnnPoint,
  type ProbePoint,
} from '../train/checkpoint';
import { BLOW_UP_FACTOR, checkStep, type KnobNames } from '../train/divergence';
import { chanceLoss } from '../train/finalFigures';
import { Trainer } from '../train/trainer';
import type { Encoder } from '../moco/encoder';
import type { StepStats } from '../moco/moco';
import { deviceLossFallback, errorMessage, gpuDevice, mayRecoverAutomatically, onDeviceLost, recoverBackend, selectBackend, withOutOfMemoryScope } from './backend';
import { checkGpuLimits } from './gpuLimits';
import { customKernelEnabled } from '../kernels/registry';
import { checkTrainable, loadSample, loadUserFiles, PROGRESS_INTERVAL_MS, throttleProgress } from './datasets';
import { KNN_T } from '../eval/knn';
import { Evaluation } from './evaluation';
import type { RunCurves } from './experimentTypes';
import type { KnnResult, ProbeResult } from './evaluationTypes';
import { Lock, yieldToEventLoop } from './lock';
import type { RunStore } from './runStore';
import { emptyQueue, queueSnapshot } from './queueSnapshot';
import { StatsBatcher, systemClock, type BatcherClock } from './statsBatcher';
import { ChartHistory, chartPointOf, recordOfChartPoint, statColumns, stepRecord } from './stepStats';
import { TrainingData, type LoadedData } from './trainingData';
import {
  AUTOSAVE_INTERVAL_MS,
  RESTORE_POINT_INTERVAL_MS,
  STATS_INTERVAL_MS,
  BACKEND_LABELS,
  type BackendInfo,
  type BackendName,
  LoadSuperseded,
  type DatasetInfo,
  type DeviceRecovery,
  type DatasetLoaded,
  type DatasetSource,
  type Divergence,
  type EncoderName,
  type ExportedBundle,
  type GpuErrorWarning,
  type InitOptions,
  type LoadOptions,
  type LoadProgress,
  type LossWarning,
  type ModelInfo,
  type ParamChange,
  type ResumedRun,
  type SavedRun,
  type SaveStatus,
  type RunState,
  type RunStatus,
  type StatsBatch,
  type StepRecord,
  type TrainingSetup,
} from './types';

/**
 * Every use of the model (a step, a parameter change, an export, an evaluation) runs under one
 * lock, in turn, so a call that arrives while a step is in flight takes effect between that step
 * and the next.
 */
/** What the service needs of a store of saved runs (IndexedDB's RunStore; a test's in memory). */
export type SavedRunStore = Pick<RunStore, 'save' | 'list' | 'read' | 'rename' | 'delete'>;

/** The run in use set aside while an experiment trains or a replay is shown (`holdRun`), and what brings it back (`restoreRun`). */
export interface HeldRun {
  /** Which hold this is: the Worker keeps the run's loaded data (not sent to the page) under it. */
  hold: number;
  setup: TrainingSetup;
  step: number;
  /** Its checkpoint (a failed run's: its last good save); null when it had no step or no good save (it comes back as a fresh model of its setup). */
  bytes: Uint8Array | null;
  runKey: string;
  save: SaveStatus | null;
  /** No run was in memory (a rebuild had failed, `TrainingService.lostRun`): it comes back as that, refused as before, not as a fresh model. */
  lost: LostRun | null;
  /** How many datasets had been asked for when it was held: one asked later (the replay's sample) ends before it comes back. */
  loadsAsked: number;
}

/** How long after a failed GPU read `device.lost` may resolve and still count as the failure's cause. */
const LOSS_NOTICE_MS = 1000;

/** The longest name a saved run may have. */
export const MAX_RUN_NAME = 80;

/** The knobs a diverged run's message points to: the app's sliders, by their labels. */
export const APP_KNOBS: KnobNames = { learningRate: 'the Learning rate slider', temperature: 'the Temperature T slider' };

export class TrainingService {
  private onStats: (batch: StatsBatch) => void = () => {};
  private backend: BackendInfo | null = null;
  private setup: TrainingSetup | null = null;
  /** The training images, and the held-out images that evaluation reads. */
  private readonly data = new TrainingData();
  private trainer: Trainer | null = null;
  private runId = 0;
  private state: RunState = 'idle';
  private error: string | null = null;
  private elapsedBefore = 0;
  private runningSince: number | null = null;
  private loop: Promise<void> | null = null;
  /** The calls putting another run in place now (configure, resume, loading weights): see `replacing`. */
  private readonly replacements = new Set<Promise<unknown>>();
  /** How many datasets were asked for, the loads in flight by that count, and the count of the latest that built its run (see `loadDataset`). */
  private loadsAsked = 0;
  private readonly loads = new Map<number, Promise<unknown>>();
  private loadUsed = 0;
  /** That load's data, and what chose it when not the user in the Data panel (`LoadOptions.chosenBy`). */
  private loadUsedBy: { what: string; chosenBy: string } | null = null;
  /** A restore in flight (`restoreGoodState`, `continueOnCpu`): a second click joins it rather than restore again. */
  private restoring: Promise<ModelInfo> | null = null;
  private continuing: Promise<{ backend: BackendInfo; model: ModelInfo }> | null = null;
  /**
   * The run in use was freed and what was to take its place failed to build (a Reset's new model, a
   * restore after a lost device): no model is in memory. A Start or a Step refuses, saying this,
   * rather than build a fresh model the user did not ask for; a run put in place ends it.
   */
  private lostRun: LostRun | null = null;
  /** How many Pauses were asked for: a Start still waiting when a Pause comes does not start (see `start`). */
  private pausesAsked = 0;
  /** The single steps in flight: a Start waits for them (see `start`). */
  private readonly steps = new Set<Promise<unknown>>();
  private stopRequested = false;
  private readonly lock = new Lock();
  private changes: ParamChange[] = [];
  /** Every parameter change of the current run (the charts' markers), kept in its checkpoints so that a resumed run shows them again. */
  private runChanges: RunChange[] = [];
  private readonly batcher: StatsBatcher<StepRecord>;
  /** The current run's chart points, kept in its checkpoints so that a resumed run's charts go on. */
  private readonly chart = new ChartHistory();
  /** Where runs save themselves (IndexedDB in the Worker); null: no automatic saves (Node). */
  private store: SavedRunStore | null = null;
  private autosaveEveryMs = AUTOSAVE_INTERVAL_MS;
  /** Names the current run in the store: its saves replace each other. */
  private runKey = newRunKey();
  private lastSaveAt = 0;
  /** A run never saved (no Step, pause or earlier save did) is saved after its first step of training, not 30 s later: a reload soon after Start finds it. */
  private firstSaveDue = false;
  private saveStatus: SaveStatus | null = null;
  private saving: Promise<void> | null = null;
  private saveWanted = false;
  /** How many kNN and probe results the last save held: a save at a step already stored goes ahead only when there are more now. */
  private savedResults = 0;
  /** While an experiment trains its runs in this service, they are not saved (the user's run is held aside). */
  private autosavePaused = false;
  /**
   * The loaded data of the run held aside (`holdRun`), under the hold's number, until `restoreRun`
   * puts it back. The Worker holds one loaded dataset for training: a replay that reads the CIFAR-10
   * sample for its final model replaces the user's files, which would then be gone when their run
   * comes back. Kept here, the files come back with the run and it trains on at once. The cost: while
   * the sample is in use, the user's data stays in memory beside it (a whole CIFAR-10: about 180 MB of
   * images, with the sample's 15 MB); until then this is the same data in use, nothing more.
   */
  private heldData: { hold: number; data: LoadedData } | null = null;
  private holds = 0;
  /**
   * The last good state, as checkpoint bytes in memory: a save's, the checkpoint resumed, or one
   * taken every `restoreEveryMs` of training. What `restoreGoodState()` brings back after a step
   * went wrong; null: nothing yet (a fresh model of the same setup is the good state then).
   * A step's loss is computed before its update, so an update that broke the weights (a huge
   * learning rate) shows only in the next step's loss: the state after step s is `unverified`
   * until step s + 1 has passed the check, and only then becomes the restore point.
   */
  private restorePoint: RestorePoint | null = null;
  private unverified: RestorePoint | null = null;
  private restoreEveryMs = RESTORE_POINT_INTERVAL_MS;
  private lastRestorePointAt = 0;
  /**
   * The last checkpoint bytes encoded, and the state they hold (`stateKey()`), which `runBytes()`
   * gives again while the run is as it was (a pause's save, then `checkpoint()` or `holdRun()`);
   * dropped when a step changes the run or another run comes in.
   */
  private lastEncoded: { key: string; bytes: Uint8Array } | null = null;
  /** The step that went wrong; training stays stopped until the good state is restored (or a new run). */
  private diverged: Divergence | null = null;
  /** The loss blew up but stayed finite: training goes on, warned, until a step's loss is back below the threshold. */
  private lossWarning: LossWarning | null = null;
  /** GPU errors no error scope caught, on a device that stayed: training goes on, warned (for the run in use). */
  private gpuError: GpuErrorWarning | null = null;
  /** The WebGPU device was lost and not recovered by itself: what the page says, until `continueOnCpu()` (or a new Worker). */
  private gpuLost: string | null = null;
  /** The latest automatic recovery from a lost device, and when each happened (for the retry cap). */
  private deviceRecovery: DeviceRecovery | null = null;
  private recoveryTimes: number[] = [];
  /** The automatic recovery in progress. */
  private recovering: Promise<void> | null = null;
  /** The latest GPU error no error scope caught (often a loss's forerunner), said with the loss. */
  private lastGpuError: string | null = null;
  /** The WebGPU device watched for loss; null on other backends. */
  private device: GPUDevice | null = null;
  /** The page's backend order (`?backend=`), which the fallback after a lost device follows. */
  private backendOrder: readonly BackendName[] | undefined;
  private testHooks = false;
  /** Content hashes of the datasets trained on (a checkpoint records the one of its run). */
  private readonly identities = new WeakMap<ImageDataset, Promise<DatasetIdentity>>();
  /** kNN monitor, probe, embedding view, neighbours, augmentation preview: under the same lock as the steps. */
  readonly evaluation = new Evaluation({
    trainer: () => this.trainer,
    heldOut: () => this.heldOutDataset(),
    runId: () => this.runId,
    exclusive: (fn) => this.lock.run(fn),
    stopping: () => this.stopRequested,
    // A result while paused is saved now: the run's next save might be far off, and a save at a step already stored would be skipped.
    recorded: () => {
      if (!this.loop) this.requestSave();
    },
  });

  constructor(
    private readonly clock: BatcherClock = systemClock,
    private readonly chooseBackend: (options?: InitOptions) => Promise<BackendInfo> = (o) => selectBackend(o?.backends),
  ) {
    this.batcher = new StatsBatcher((records) => this.emit(records), STATS_INTERVAL_MS, clock);
  }

  /** Picks the backend and registers the statistics callback (from the page, a comlink proxy). Call once, first. */
  async init(onStats: (batch: StatsBatch) => void, options?: InitOptions): Promise<BackendInfo> {
    this.onStats = onStats;
    const every = options?.autosaveEveryMs;
    if (every !== undefined && Number.isFinite(every) && every >= 0) this.autosaveEveryMs = every;
    // A Worker started in place of one that ended: its runs number on from the old one's, so that the page takes them as new.
    this.runId = Math.max(this.runId, options?.runIdAfter ?? 0);
    this.testHooks = options?.testHooks ?? false;
    this.backendOrder = options?.backends;
    if (!this.backend) {
      this.backend = await this.chooseBackend(options);
      this.watchDevice();
    }
    return this.backend;
  }

  /** The page's heartbeat: answers at once (no lock), unless the Worker's thread is stuck or gone. */
  async ping(): Promise<number> {
    return this.runId;
  }

  /** Builds the dataset and a fresh model (pausing and discarding the current run). */
  async configure(setup: TrainingSetup): Promise<ModelInfo> {
    validateLiveParams(setup.params);
    this.checkDeviceLimits(setup, setup.params.queueSize);
    if (setup.dataset !== 'synthetic' && !this.data.has(setup.dataset)) throw new Error('no files are loaded: load a dataset first');
    return this.replacing(async () => {
      await this.stopLoop();
      return this.lock.run(async () => {
        const start = this.clock.now();
        // A run freed here whose replacement fails to build is lost to memory (its save stays): see `lostRun`.
        const freed = this.trainer || this.lostRun ? this.lostRunOf('building the new model') : null;
        this.clearRun(setup, newRunKey());
        this.state = 'idle';
        this.error = null;
        let trainer: Trainer;
        try {
          const built = await withOutOfMemoryScope(async () => new Trainer(configOf(setup), this.data.trainFor(setup)));
          trainer = built.result;
          if (built.outOfMemory) {
            trainer.dispose();
            throw new Error(outOfMemoryMessage('building the model and the queue', setup, setup.params.queueSize, built.outOfMemory));
          }
        } catch (e) {
          if (freed) await this.loseRun(freed, e);
          throw e;
        }
        this.trainer = trainer;
        this.lostRun = null;
        this.batcher.flush(true);
        return this.modelInfo(trainer, start);
      });
    });
  }

  /** Trains until paused (or until the step budget is reached). */
  async start(): Promise<void> {
    return this.startUnlessPaused(this.pausesAsked);
  }

  /** `start`, given up if a Pause is asked after the `pauses`-th: a Start clicked before that Pause, or training that resumes by itself (a recovery). */
  private async startUnlessPaused(pauses: number): Promise<void> {
    // A loop running is this call's; one being stopped (a Pause in flight) ends first, a run
    // being replaced is put in place first, and a single step in flight ends first. Another Start
    // may begin a loop while this one waits (clicked twice during a Pause): all is checked again
    // after every await, and from the last check to the new loop nothing awaits, so that one loop
    // at most runs, which Pause stops. A Pause asked while this Start waits wins: it has no loop to
    // stop yet, so this Start gives up.
    for (;;) {
      if (this.pausesAsked !== pauses) return;
      if (this.replacements.size > 0) {
        // A Reset, a resume, a new dataset or weights in flight: this Start trains the run they put in place.
        await this.replaced();
        continue;
      }
      if (this.steps.size > 0) {
        // A step that goes wrong stops the run (refused below); a loop started meanwhile would train
        // on the broken run while the step's error said it had stopped.
        await Promise.allSettled([...this.steps]);
        continue;
      }
      if (this.loop) {
        if (!this.stopRequested) return;
        await this.loop;
        continue;
      }
      if (this.trainer) break;
      await this.refuseIfRunLost();
      await this.configure(this.requireSetup());
    }
    this.refuseIfDiverged();
    if (this.budgetReached()) return;
    this.state = 'running';
    this.error = null;
    this.stopRequested = false;
    this.runningSince = this.clock.now();
    this.batcher.flush(true);
    this.loop = this.runLoop();
  }

  /**
   * Runs `work`, which pauses training and puts another run (or the same run's other weights) in
   * place, as one of `replacements`: a Start that comes meanwhile waits for it, rather than start a
   * loop on the run being replaced that `work` would then swap (or pause) under it.
   */
  private async replacing<T>(work: () => Promise<T>): Promise<T> {
    return inFlight(this.replacements, work);
  }

  /**
   * Resolves once no other run is being put in place: a setup change asked while files were read
   * (a batch chosen meanwhile) is the setup the new dataset's run takes, not one it overwrites.
   */
  private async replaced(): Promise<void> {
    while (this.replacements.size > 0) await Promise.allSettled([...this.replacements]);
  }

  /** Resolves once the step in flight has finished and its statistics are sent; a Start still waiting (for a step, a run put in place) does not start. */
  async pause(): Promise<void> {
    this.pausesAsked++;
    await this.stopLoop();
  }

  /** Ends the loop, if one runs, as `pause` does; a Start waiting for the caller (a run put in place) still starts after it. */
  private async stopLoop(): Promise<void> {
    if (!this.loop) return;
    this.stopRequested = true;
    await this.loop;
  }

  /** One step while paused; returns its statistics. */
  async step(): Promise<StepRecord> {
    return inFlight(this.steps, () => this.stepNow());
  }

  private async stepNow(): Promise<StepRecord> {
    if (this.loop) throw new Error('training is running: pause it before stepping');
    const setup = this.requireSetup();
    if (!this.trainer) {
      await this.refuseIfRunLost();
      await this.configure(setup);
    }
    this.refuseIfDiverged();
    const start = this.clock.now();
    try {
      const record = await this.lock.run(() => this.trainOneStep(() => this.elapsedBefore + (this.clock.now() - start)));
      // No loop runs: a Start that came meanwhile waits for this step.
      this.elapsedBefore = record.elapsedMs;
      this.state = this.budgetReached() ? 'finished' : 'paused';
      // Not awaited: the step's statistics go out now; a due kNN run follows under the lock.
      void this.evaluation.afterStep();
      this.requestSave();
      return record;
    } catch (e) {
      if (await this.lostDuring()) throw new Error('the GPU device was lost during this step: the run goes on from its last state kept, on a new backend');
      this.fail(e);
      throw e;
    } finally {
      this.batcher.flush(true);
    }
  }

  /** A fresh model with the current setup and parameters. */
  async reset(): Promise<ModelInfo> {
    return this.configure(this.requireSetup());
  }

  /** Applies from the next step, without restarting; resolves with the change as recorded. */
  async setParams(params: Partial<LiveParams>): Promise<ParamChange> {
    validateLiveParams(params);
    if (params.queueSize !== undefined && this.setup) this.checkDeviceLimits(this.setup, params.queueSize);
    return this.lock.run(() => {
      const setup = this.requireSetup();
      this.trainer?.setParams(params);
      Object.assign(setup.params, params);
      const fromStep = (this.trainer?.moco.stepCount ?? 0) + 1;
      const last = this.changes.at(-1);
      // Changes that land between the same two steps make one marker.
      if (last && last.fromStep === fromStep) Object.assign(last.params, params);
      else this.changes.push({ runId: this.runId, fromStep, params: { ...params } });
      const kept = this.runChanges.at(-1);
      if (kept && kept.fromStep === fromStep) Object.assign(kept.params, params);
      else this.runChanges.push({ fromStep, params: { ...params } });
      this.batcher.flush(true);
      return { runId: this.runId, fromStep, params: { ...params } };
    });
  }

  /** The weights as one zip: TensorFlow.js model, safetensors for PyTorch, metadata.json (io/modelBundle). */
  async exportWeights(options: { includeKey: boolean }): Promise<ExportedBundle> {
    return this.lock.run(async () => {
      const trainer = this.requireTrainer();
      await refuseNonFinite(options.includeKey ? [trainer.moco.encoderQ, trainer.moco.encoderK] : [trainer.moco.encoderQ], 'download them');
      const current = <T extends { runId: number }>(r: T | null) => (r && r.runId === this.runId ? r : null);
      return modelBundleZip(trainer.moco.encoderQ, options.includeKey ? trainer.moco.encoderK : null, {
        ...trainer.bundleInfo(),
        knn: current(this.evaluation.last.knn),
        probe: current(this.evaluation.last.probe),
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
      tensors = weightsFromFile(bytes, fileName);
    } catch (e) {
      if (e instanceof SafetensorsError || e instanceof BundleError) throw new Error(`${fileName}: ${e.message} (give the downloaded zip or a .safetensors file)`);
      throw e;
    }
    const mismatch = architectureMismatch(tensors, configOf(setup).arch);
    if (mismatch) throw new Error(`${fileName} ${mismatch}: choose its preset and MoCo version in the setup, Reset, then load it again`);
    return this.replacing(async () => {
      const model = await this.configure(setup);
      await this.lock.run(async () => {
        const { encoderQ, encoderK } = this.requireTrainer().moco;
        this.lastEncoded = null;
        loadStateDict(encoderQ, tensors);
        // MoCo's momentum encoder starts as a copy of the query encoder.
        encoderK.copyFrom(encoderQ);
      });
      return model;
    });
  }

  /**
   * The L2-normalised embedding (inference mode) of `images` (`[n, 32, 32, 3]` in [0, 1], flat),
   * `[n, dim]` flat: what a downloaded model gives after L2 normalisation.
   */
  async embed(images: Float32Array, which: EncoderName): Promise<Float32Array> {
    const n = images.length / IMAGE_BYTES;
    if (!Number.isInteger(n) || n < 1) throw new Error(`embed: expected n × ${IMAGE_SIZE} × ${IMAGE_SIZE} × 3 values, got ${images.length}`);
    return this.lock.run(async () => {
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

  /**
   * Reads the files (or returns to the built-in dataset) and, once they parse, trains on them: a
   * fresh model with the current setup, as `reset()` builds. Training keeps running while the files
   * are read; on any problem this rejects with a message naming the file, and the dataset, the
   * model and the run are as they were. `onProgress` hears a few times a second. A load that a
   * later one replaces rejects with `LoadSuperseded`, which names who chose the later data when
   * that was not the user in the Data panel (`options.chosenBy`).
   */
  async loadDataset(source: DatasetSource, onProgress?: (progress: LoadProgress) => void, options: LoadOptions = {}): Promise<DatasetLoaded> {
    this.requireSetup();
    const asked = ++this.loadsAsked;
    const done = this.loadDatasetNow(asked, source, onProgress, options.chosenBy ?? null);
    this.loads.set(asked, done);
    try {
      return await done;
    } finally {
      this.loads.delete(asked);
    }
  }

  private async loadDatasetNow(asked: number, source: DatasetSource, onProgress: ((progress: LoadProgress) => void) | undefined, chosenBy: string | null): Promise<DatasetLoaded> {
    // The data chosen last is the data used, whichever read ends last: a load waits for those asked
    // after it, and builds no run if one of them did. One that failed (a wrong file) leaves this
    // one to be used: its read is not lost.
    const refuseIfReplaced = async (name: string) => {
      for (let later = this.loadsAfter(asked); later.length > 0; later = this.loadsAfter(asked)) await Promise.allSettled(later);
      await this.replaced();
      if (this.loadUsed <= asked) return;
      // Data the user did not choose here (the replay's sample) says so, and how to get theirs back: the Data panel shows it.
      const by = this.loadUsedBy;
      throw new LoadSuperseded(
        by
          ? `${name} was not loaded: ${by.what} replaced it, read for ${by.chosenBy} while ${name} was being read. Choose ${name} again in the Data panel to train on it`
          : `${name} was not loaded: other data was chosen while it was read (choose ${name} again to train on it)`,
      );
    };
    const used = (what: string) => {
      if (asked < this.loadUsed) return;
      this.loadUsed = asked;
      this.loadUsedBy = chosenBy === null ? null : { what, chosenBy };
    };
    return this.data.loading(async () => {
      if (source.kind === 'builtin') {
        await refuseIfReplaced('the built-in dataset');
        // Already in use: the choice only replaces the files being read (the panel's way to drop a
        // load), so the run trained so far is kept, not reset.
        const trainer = this.trainer;
        if (trainer && this.requireSetup().dataset === 'synthetic') {
          this.data.dropFiles();
          used('the built-in dataset');
          return { dataset: this.data.info()!, model: this.modelInfo(trainer, this.clock.now()) };
        }
        const model = await this.configure({ ...this.requireSetup(), dataset: 'synthetic' });
        this.data.dropFiles();
        used('the built-in dataset');
        return { dataset: this.data.info()!, model };
      }
      // Read while training goes on: the run is only paused (by configure) once every file has parsed.
      const progress = onProgress && throttleProgress(onProgress, PROGRESS_INTERVAL_MS, () => this.clock.now());
      const loaded = source.kind === 'sample' ? await loadSample(source.url, progress) : await loadUserFiles(source.files, { labels: source.labels, folders: source.folders, onProgress: progress });
      await refuseIfReplaced(source.kind === 'sample' ? 'the CIFAR-10 sample' : loaded.name);
      checkTrainable(loaded, this.requireSetup().batchSize);
      this.data.useFiles(loaded, source.kind);
      // A new dataset means a new run: the same setup and live parameters, a fresh model, as reset() gives.
      const model = await this.configure({ ...this.requireSetup(), dataset: source.kind });
      used(source.kind === 'sample' ? 'the CIFAR-10 sample' : loaded.name);
      return { dataset: this.data.info()!, model };
    });
  }

  /** The loads in flight asked after the `asked`-th. */
  private loadsAfter(asked: number): Promise<unknown>[] {
    return [...this.loads].filter(([n]) => n > asked).map(([, p]) => p);
  }

  /**
   * The current run as checkpoint bytes (train/checkpoint): the whole training state, the setup,
   * the kNN history, the training time so far. Taken between two steps; training goes on after.
   */
  async checkpoint(): Promise<Uint8Array> {
    return this.lock.run(async () => {
      const { moco } = this.requireTrainer();
      await refuseNonFinite([moco.encoderQ, moco.encoderK], 'save the run');
      return this.runBytes();
    });
  }

  /**
   * After a step went wrong: the last good state again (weights, queue, step, charts; a fresh model
   * of the same setup when no good state was kept yet), with the live parameters as they are now,
   * so that training goes on once the knob the message names is changed. Later saves replace the
   * run's last save, as before.
   */
  async restoreGoodState(): Promise<ModelInfo> {
    this.restoring ??= this.restoreGoodStateNow().finally(() => (this.restoring = null));
    return this.restoring;
  }

  private async restoreGoodStateNow(): Promise<ModelInfo> {
    if (!this.diverged) throw new Error('nothing to restore: training has not gone wrong');
    const setup = this.requireSetup();
    const params = { ...setup.params };
    const point = this.restorePoint;
    let model: ModelInfo;
    if (point) {
      model = await this.resumeAs(point.bytes, `the last good state (step ${point.step})`, this.runKey, this.saveStatus);
    } else {
      const runKey = this.runKey;
      model = await this.configure(setup);
      this.runKey = runKey;
    }
    const restored = this.requireSetup().params;
    const changed = Object.fromEntries(Object.entries(params).filter(([key, value]) => restored[key as keyof LiveParams] !== value)) as Partial<LiveParams>;
    if (Object.keys(changed).length > 0) await this.setParams(changed);
    return model;
  }

  /**
   * Keeps an in-memory restore point every `everyMs` of training (default 10 s; 0: after every
   * step, for tests) until the run's first automatic save (or always, without saves); every
   * save's state is one too.
   */
  keepRestorePoints(everyMs: number): void {
    this.restoreEveryMs = everyMs;
  }

  /**
   * Continues the run of a checkpoint (`checkpoint()`'s bytes, or the headless trainer's file): its
   * next step is the one the saved run would have taken, on the same images with the same queue.
   * A damaged file, or a run on images other than those at hand, is refused with a message naming
   * the file, and the run in use is untouched.
   */
  async resume(bytes: Uint8Array, fileName: string): Promise<ModelInfo> {
    return this.resumeAs(bytes, fileName, newRunKey(), null);
  }

  /**
   * Automatic saves from now on, to `store` (the Worker's IndexedDB): every `everyMs` of training,
   * on every pause and after a single step. Each save of a run replaces its previous one.
   */
  useRunStore(store: SavedRunStore, everyMs?: number): void {
    this.store = store;
    if (everyMs !== undefined) this.autosaveEveryMs = everyMs;
  }

  /** The runs saved in the browser, the latest first (none without a store). */
  async savedRuns(): Promise<SavedRun[]> {
    return this.store ? this.store.list() : [];
  }

  /** Continues a saved run (as `resume`), whose later saves replace that one. */
  async resumeSaved(id: string): Promise<ResumedRun> {
    const store = this.requireStore();
    const run = (await store.list()).find((r) => r.id === id);
    if (!run) throw new Error(`the saved run ${id} is no longer stored (deleted in another tab?)`);
    const label = `the saved run (step ${run.step} on ${run.datasetName})`;
    const model = await this.resumeAs(await store.read(id), label, run.runKey, { step: run.step, savedAt: run.savedAt, error: null });
    return { model, setup: this.requireSetup(), run };
  }

  /**
   * A saved run's curves (every chart point and kNN result, its setup and final live parameters),
   * read from its checkpoint's manifest without its weights: what the charts draw beside the run in use.
   */
  async savedRunCurves(id: string): Promise<RunCurves> {
    const manifest = decodeCheckpointManifest(await this.requireStore().read(id), `the saved run ${id}`);
    const setup = this.setupOf({ file: id, manifest, tensors: new Map() });
    const batchesPerEpoch = Math.max(1, Math.floor(manifest.setup.dataset.size / setup.batchSize));
    const records = (manifest.history.chart ?? []).map((p) => recordOfChartPoint(p, setup.batchSize, batchesPerEpoch));
    return {
      setup,
      count: records.length,
      columns: statColumns(records),
      knn: manifest.history.knn.map((k) => ({ step: k.step, accuracy: k.accuracy })),
      changes: changesOf(manifest.client.app),
    };
  }

  /**
   * Sets the run in use aside for an experiment or a classroom replay: paused, saved to the
   * browser's storage (when there is one), and kept in memory whole, with the data it trains on
   * (`heldData`); automatic saves stop until `restoreRun`. Returns what `restoreRun` needs.
   */
  async holdRun(): Promise<HeldRun> {
    // A load of the user's still being read ends first, and the run it builds is the one held: ended
    // later, it would replace the experiment's run in the middle of its steps, and be replaced by the
    // run put back (its files with it) when the replay or experiment ends, said nowhere.
    while (this.loads.size > 0) await Promise.allSettled([...this.loads.values()]);
    await this.replaced();
    await this.pause();
    const setup = this.requireSetup();
    const step = this.trainer?.moco.stepCount ?? 0;
    const hold = ++this.holds;
    const lost = this.lostRun && { ...this.lostRun };
    const held: HeldRun = { hold, setup: { ...setup, params: { ...setup.params } }, step, bytes: null, runKey: this.runKey, save: this.saveStatus, lost, loadsAsked: this.loadsAsked };
    // Its data stays with it, whatever is loaded meanwhile (see `heldData`).
    const data = setup.dataset !== 'synthetic' && this.data.has(setup.dataset) ? this.data.loaded() : null;
    this.heldData = data && { hold, data };
    // A lost run has no model in memory (step 0): nothing to read or save; it comes back lost, as it is.
    if (step > 0 && this.state !== 'error') {
      // The pause saved the run (when there is a store): its bytes are the run as it is, read from the model once.
      held.bytes = await this.checkpoint();
      this.requestSave();
      await this.saving;
      held.save = this.saveStatus;
    } else if (step > 0 && this.store) {
      // A run that failed (a NaN loss) comes back as its last good save, if it has one.
      const saved = (await this.store.list()).find((r) => r.runKey === this.runKey);
      if (saved) Object.assign(held, { bytes: await this.store.read(saved.id), step: saved.step });
    }
    this.autosavePaused = true;
    return held;
  }

  /**
   * Puts a held run back as it was, with the data it trained on (its later saves replace its
   * earlier ones again); a run without a step comes back fresh. A run that was lost when set aside
   * comes back lost (null: no model), refused as before with the same ways back, its save untouched.
   */
  async restoreRun(held: HeldRun): Promise<ModelInfo | null> {
    // What the replay began ends first (the sample being read, its final model being resumed): else,
    // finished after this, it would replace the run put back.
    await Promise.allSettled(this.loadsAfter(held.loadsAsked));
    await this.replaced();
    this.autosavePaused = false;
    // Put back first, and kept so even if the run cannot be (its save under Saved runs resumes on this data).
    if (this.heldData?.hold === held.hold) {
      this.data.putBack(this.heldData.data);
      this.heldData = null;
    }
    if (held.lost) return this.putBackLost(held, held.lost);
    if (!held.bytes) return this.configure(held.setup);
    return this.resumeAs(held.bytes, 'your run', held.runKey, held.save);
  }

  /** `restoreRun` of a run lost before it was held: whatever was trained meanwhile goes, and no model takes its place. */
  private async putBackLost(held: HeldRun, lost: LostRun): Promise<null> {
    await this.replacing(async () => {
      await this.stopLoop();
      await this.lock.run(async () => {
        const setup = this.clearRun(held.setup, held.runKey, held.save);
        this.evaluation.restoreResults([], []);
        // The evaluation and the Data panel read the held run's data again (it was put back, or is built in).
        if (setup.dataset === 'synthetic' || this.data.has(setup.dataset)) this.data.trainFor(setup);
        this.lostRun = { ...lost };
        this.state = 'error';
        this.error = this.gpuLost ?? (await this.lostRunMessage(this.lostRun));
        this.batcher.flush(true);
      });
    });
    return null;
  }

  /** Names a saved run (at most 80 characters; later saves of the run keep the name). */
  async renameSavedRun(id: string, name: string): Promise<void> {
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > MAX_RUN_NAME) throw new Error(`a run's name must be 1 to ${MAX_RUN_NAME} characters, got ${trimmed.length}`);
    await this.requireStore().rename(id, trimmed);
  }

  async deleteSavedRun(id: string): Promise<void> {
    await this.requireStore().delete(id);
    if (this.saveStatus && (await this.requireStore().list()).every((r) => r.runKey !== this.runKey)) this.saveStatus = null;
  }

  private resumeAs(bytes: Uint8Array, fileName: string, runKey: string, saved: SaveStatus | null): Promise<ModelInfo> {
    return this.replacing(() => this.resumeNow(bytes, fileName, runKey, saved));
  }

  private async resumeNow(bytes: Uint8Array, fileName: string, runKey: string, saved: SaveStatus | null): Promise<ModelInfo> {
    const checkpoint = await decodeCheckpoint(bytes, fileName);
    const setup = this.setupOf(checkpoint);
    const train = await this.imagesFor(checkpoint, setup);
    validateLiveParams(setup.params);
    const trainer = restoreTrainer(checkpoint, train);
    // The file's history is read before the run in use is touched: a damaged one is refused, naming the file.
    let history: SavedHistory;
    try {
      history = savedHistory(checkpoint, setup, train, trainer.batchesPerEpoch, this.heldOutDataset());
    } catch {
      trainer.dispose();
      throw new CheckpointError(checkpoint.file, 'its chart, kNN or probe history is damaged: open another copy of the run (a download of it, or its save in the Saved runs list)');
    }
    await this.stopLoop();
    return this.lock.run(() => {
      const start = this.clock.now();
      this.trainer?.dispose();
      this.trainer = trainer;
      this.lostRun = null;
      this.data.trainFor(setup, train);
      this.batcher.clear();
      this.runId++;
      // The saved run's markers come back with its charts, in the batch below.
      this.runChanges = changesOf(checkpoint.manifest.client.app);
      this.changes = this.runChanges.map((c) => ({ runId: this.runId, fromStep: c.fromStep, params: { ...c.params } }));
      this.setup = setup;
      this.newSaveSlot(runKey, saved);
      this.newRestorePoint({ bytes, step: trainer.moco.stepCount, summary: null });
      this.error = null;
      this.elapsedBefore = history.elapsedMs;
      this.runningSince = null;
      this.state = this.budgetReached() ? 'finished' : 'paused';
      // The charts and the kNN history go on from where the saved run was.
      this.chart.reset(checkpoint.manifest.history.chart ?? []);
      for (const record of history.records) this.batcher.push(record);
      this.batcher.flush(true);
      const runId = this.runId;
      this.evaluation.restoreResults(
        history.knn.map((r) => ({ ...r, runId })),
        history.probes.map((r) => ({ ...r, runId })),
      );
      this.savedResults = this.resultCount();
      return this.modelInfo(trainer, start);
    });
  }

  /** The setup of the run in use (after `resume`, the saved run's); null before the first configure(). */
  async currentSetup(): Promise<TrainingSetup | null> {
    return this.setup && { ...this.setup, params: { ...this.setup.params } };
  }

  /** The dataset training reads now; null before the first configure(). */
  async datasetInfo(): Promise<DatasetInfo | null> {
    return this.data.info();
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
      save: this.saveStatus,
      runKey: this.runKey,
      diverged: this.diverged,
      lossWarning: this.lossWarning && { ...this.lossWarning },
      gpuError: this.gpuError && { ...this.gpuError },
      gpuLost: this.gpuLost,
      deviceRecovery: this.deviceRecovery && { ...this.deviceRecovery },
    };
  }

  dispose(): void {
    this.stopRequested = true;
    this.batcher.clear();
    this.evaluation.dispose();
    this.trainer?.dispose();
    this.trainer = null;
  }

  private newRestorePoint(point: RestorePoint | null): void {
    this.restorePoint = point;
    this.unverified = null;
    this.lastRestorePointAt = this.clock.now();
    this.diverged = null;
    this.lossWarning = null;
    this.gpuError = null;
    this.lastEncoded = null;
  }

  /** Refuses a setup whose largest buffers this GPU cannot hold (WebGPU only), before anything is allocated. */
  private checkDeviceLimits(setup: TrainingSetup, queueSize: number): void {
    const limits = gpuDevice()?.limits;
    const problem = limits && checkGpuLimits({ preset: setup.preset, batchSize: setup.batchSize, queueSize, customInputGradient: customKernelEnabled('Conv2DBackpropInput') }, limits);
    if (problem) throw new Error(problem);
  }

  /** Hears the loss and the uncaught errors of the WebGPU device in use now (nothing on other backends). */
  private watchDevice(): void {
    const device = gpuDevice();
    this.device = device;
    onDeviceLost(
      (how) => this.deviceLost(how),
      (message) => {
        // The browser's first line names the error; the rest is the call stack of its API.
        this.lastGpuError = message.split('\n')[0].trim().replace(/\.$/, '') || 'an unnamed GPU error';
        // Errors of a device being replaced are the loss's to tell (with the last of them).
        if (device === this.device && !this.recovering && !this.gpuLost) this.warnGpuError(this.lastGpuError);
      },
    );
  }

  /** An error no error scope caught, while the device stays: said, and counted, with the step the run had reached. */
  private warnGpuError(error: string): void {
    const step = this.trainer?.moco.stepCount ?? 0;
    const w = this.gpuError;
    const next = { firstStep: w?.firstStep ?? step, step, count: (w?.count ?? 0) + 1, error };
    this.gpuError = { ...next, message: gpuErrorMessage(next) };
    this.batcher.flush(true);
  }

  /**
   * The device is gone, and every tensor on it. The Worker recovers by itself: a new backend
   * (WebGPU again if the browser still gives an adapter, else the fallback), the last good state,
   * and training again if it was training (and no Pause came meanwhile). A device lost again soon after a recovery (a GPU that
   * keeps failing: `mayRecoverAutomatically`), or a recovery that fails, stops training, and the
   * page offers the fallback or a new Worker.
   */
  private deviceLost(how: string): void {
    const now = this.clock.now();
    const step = this.trainer?.moco.stepCount ?? 0;
    const wasRunning = this.loop !== null && !this.stopRequested;
    // A Pause clicked while the run is rebuilt is the user's last word: the recovery does not train on after it.
    const pauses = this.pausesAsked;
    const lost = this.lastGpuError ? `${how} (the GPU's last error before: ${this.lastGpuError})` : how;
    this.lastGpuError = null;
    this.stopRequested = true;
    if (!mayRecoverAutomatically(this.recoveryTimes, now)) {
      const since = Math.round((now - (this.recoveryTimes.at(-1) ?? now)) / 1000);
      this.stopAfterLoss(`The GPU device was ${lost}, again ${since} s after the last recovery: a GPU that keeps failing is not recovered by itself. Training stopped at step ${step}.`);
      return;
    }
    this.recoveryTimes.push(now);
    this.deviceRecovery = { id: this.recoveryTimes.length, phase: 'recovering', lost, lostAtStep: step, fromStep: null, backend: null, resumed: false };
    this.batcher.flush(true);
    const failed = (e: unknown) => {
      this.recovering = null;
      this.deviceRecovery = null;
      this.stopAfterLoss(`The GPU device was ${lost} at step ${step}, and recovering from it failed: ${errorMessage(e)}.`);
    };
    this.recovering = this.recover(wasRunning, pauses, failed).catch(failed);
  }

  /** `pauses`: the Pauses asked before the loss; one asked during the recovery wins over training again. `failed` hears a failed rebuild. */
  private async recover(wasRunning: boolean, pauses: number, failed: (e: unknown) => void): Promise<void> {
    let backend: BackendInfo;
    try {
      backend = await this.rebuildAfterLoss(() => recoverBackend(this.backendOrder), failed);
    } catch {
      return; // `failed` has said it, before a Start waiting for the rebuild went on.
    }
    const fromStep = this.trainer?.moco.stepCount ?? 0;
    const resume = wasRunning && this.pausesAsked === pauses;
    this.deviceRecovery = { ...this.deviceRecovery!, phase: 'done', fromStep, backend, resumed: resume };
    this.recovering = null;
    this.batcher.flush(true);
    if (resume) await this.startUnlessPaused(pauses);
  }

  /**
   * Whether a call that just failed did so because the device was lost: the browser rejects the
   * reads of a lost device a moment before `device.lost` resolves, so wait for it a little.
   */
  private async lostDuring(): Promise<boolean> {
    const device = this.device;
    if (this.recovering) return true;
    if (!device || this.diverged) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lost = await Promise.race([device.lost.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), LOSS_NOTICE_MS)))]);
    clearTimeout(timer);
    return lost;
  }

  /** Training stops after a lost device; the page offers the fallback (`continueOnCpu`) or a new Worker. */
  private stopAfterLoss(what: string): void {
    const good = (this.unverified ?? this.restorePoint)?.step ?? 0;
    const fallback = BACKEND_LABELS[deviceLossFallback(this.backendOrder)[0]];
    this.gpuLost = `${what} Continue without the GPU (on the ${fallback}) from the last good state (step ${good}), or Restart the worker to try WebGPU again from the last save.`;
    this.stopRequested = true;
    this.state = 'error';
    this.error = this.gpuLost;
    this.batcher.flush(true);
  }

  /**
   * After a lost device: the old model freed (its tensors lived on the device), `backend()` as the
   * new backend, and the run again from its last state kept (a save, a snapshot: not a run gone
   * wrong, so even one the next step has not checked yet), or a fresh model of the setup when
   * none was kept. Resolves with the backend now in use.
   */
  private async rebuildAfterLoss(backend: () => Promise<BackendInfo>, failed?: (e: unknown) => void): Promise<BackendInfo> {
    // A Start meanwhile waits for the run put in place (else it would build a model on the lost device's backend, swapped under it).
    return this.replacing(() => this.rebuildNow(backend, failed));
  }

  /** `failed` hears a failed rebuild before the Start waiting for it goes on (so that its refusal offers what `failed` offers). */
  private async rebuildNow(backend: () => Promise<BackendInfo>, failed?: (e: unknown) => void): Promise<BackendInfo> {
    // The step in flight fails on the lost device; the loop ends with it.
    await this.stopLoop();
    const point = this.unverified ?? this.restorePoint;
    const freed = this.lostRunOf(point ? `rebuilding your run from its last good state (step ${point.step}) after the GPU device was lost` : 'rebuilding your run after the GPU device was lost');
    await this.lock.run(async () => {
      try {
        this.trainer?.dispose();
      } catch {
        // Nothing to free on a device that is gone.
      }
      this.trainer = null;
    });
    const runKey = this.runKey;
    try {
      this.backend = await backend();
      this.watchDevice();
      this.gpuLost = null;
      if (point) {
        await this.resumeAs(point.bytes, `the last good state (step ${point.step})`, runKey, this.saveStatus);
      } else {
        await this.configure(this.requireSetup());
      }
    } catch (e) {
      failed?.(e);
      await this.loseRun(freed, e);
      throw e;
    } finally {
      // The run's later saves replace its earlier ones (configure gave the fresh model a slot of its own).
      this.runKey = runKey;
    }
    return this.backend;
  }

  /** What `loseRun` says of the run in use, taken before it is freed for `what` (or the run lost earlier, whose save is still the one to go back to). */
  private lostRunOf(what: string): LostRun {
    return { what, error: '', runKey: this.lostRun?.runKey ?? this.runKey, step: this.lostRun?.step ?? this.trainer?.moco.stepCount ?? 0 };
  }

  /** The run was freed and `e` stopped its replacement: said in the status now, and by every Start or Step until a run is put in place. */
  private async loseRun(lost: LostRun, e: unknown): Promise<void> {
    this.trainer = null;
    this.lostRun = { ...lost, error: errorMessage(e) };
    this.state = 'error';
    // After a lost device, the loss's message is the status's (the page offers its fallback with it).
    this.error = this.gpuLost ?? (await this.lostRunMessage(this.lostRun));
    this.batcher.flush(true);
  }

  /**
   * With no model in memory because a rebuild failed (`lostRun`), refuses to build a fresh one in
   * its place (a Start or a Step would train a new run silently, where the user asked to go on with theirs).
   */
  private async refuseIfRunLost(): Promise<void> {
    if (this.lostRun) throw new Error(await this.lostRunMessage(this.lostRun));
  }

  /** What failed, that the run is gone from memory, and the ways back: its save first, if the store has one. */
  private async lostRunMessage(lost: LostRun): Promise<string> {
    const saved = this.store && (await this.store.list().catch(() => [])).find((r) => r.runKey === lost.runKey);
    const ways = [
      saved ? `resume its last save (step ${saved.step}) in Saved runs` : null,
      this.gpuLost ? 'Continue without the GPU' : null,
      lost.step > 0 ? 'Reset to start a new run' : 'Reset to build it again',
    ].filter((w): w is string => w !== null);
    const choices = ways.length > 1 ? `${ways.slice(0, -1).join(', ')}, or ${ways.at(-1)}` : ways[0];
    const run = lost.step > 0 ? `your run (step ${lost.step})` : 'the run';
    return `${lost.what} failed (${lost.error}), and ${run} is no longer in memory: nothing was started in its place. ${capitalise(choices)}.`;
  }

  /** For the app's end-to-end tests only (`?testHooks`): destroys the WebGPU device, as a driver reset would lose it. */
  async destroyGpuDevice(): Promise<void> {
    if (!this.testHooks) throw new Error('destroyGpuDevice is a test hook: open the page with ?testHooks');
    const device = gpuDevice();
    if (!device) throw new Error(`no WebGPU device: training runs on ${this.backend?.backend ?? 'no backend'}`);
    device.destroy();
  }

  /**
   * For the app's end-to-end tests only (`?testHooks`): an uncaught error in the Worker, as a bug
   * would throw outside any call. This call never answers: the page must settle it.
   */
  async crashWorker(): Promise<void> {
    if (!this.testHooks) throw new Error('crashWorker is a test hook: open the page with ?testHooks');
    setTimeout(() => {
      throw new Error('crashWorker: an uncaught error in the training worker (test hook)');
    }, 0);
    return new Promise<void>(() => {});
  }

  /** Resolves once an automatic recovery from a lost device in progress has ended; the latest recovery. */
  async deviceRecovered(): Promise<DeviceRecovery | null> {
    await this.recovering;
    return this.deviceRecovery && { ...this.deviceRecovery };
  }

  /**
   * After the GPU device was lost and not recovered by itself: the fallback backend
   * (`deviceLossFallback`: WebAssembly, else tfjs's JavaScript CPU backend), and the run from its last good state (a fresh model of
   * the setup when none was kept yet). Resolves with the backend now in use.
   */
  async continueOnCpu(): Promise<{ backend: BackendInfo; model: ModelInfo }> {
    this.continuing ??= this.continueOnCpuNow().finally(() => (this.continuing = null));
    return this.continuing;
  }

  private async continueOnCpuNow(): Promise<{ backend: BackendInfo; model: ModelInfo }> {
    if (!this.gpuLost) throw new Error('the GPU device is not lost: nothing to continue from');
    const start = this.clock.now();
    const backend = await this.rebuildAfterLoss(async () => ({ ...(await selectBackend(deviceLossFallback(this.backendOrder))), fallbackReason: 'the GPU device was lost; continued without it' }));
    return { backend, model: this.modelInfo(this.requireTrainer(), start) };
  }

  /**
   * Keeps the state before a step when a restore point is due; call under the lock. Only while the
   * run has no save: once automatic saves run, each save's bytes are the restore point, and a
   * second encode (a read of every tensor from the GPU) every 10 s would cost as much again.
   */
  private async snapshotIfDue(): Promise<void> {
    const step = this.requireTrainer().moco.stepCount;
    if (this.diverged || this.unverified?.step === step || this.clock.now() - this.lastRestorePointAt < this.restoreEveryMs) return;
    if (this.savesKeepRestorePoints()) return;
    this.unverified = { bytes: await this.runBytes(), step, summary: null };
    this.lastRestorePointAt = this.clock.now();
  }

  /** Automatic saves run and one of this run has succeeded: its bytes are kept as the restore point. */
  private savesKeepRestorePoints(): boolean {
    return this.store !== null && !this.autosavePaused && this.saveStatus !== null && this.saveStatus.step > 0 && this.saveStatus.error === null;
  }

  /**
   * After a bad step: if the last save holds a state newer than the last good one (saved after
   * the update that broke it), the good state replaces it in the store.
   */
  private async repairSave(): Promise<void> {
    await this.saving;
    const store = this.store;
    const point = this.restorePoint;
    const runId = this.runId;
    if (!store || !point?.summary || !this.saveStatus || this.saveStatus.step <= point.step) return;
    try {
      const saved = await store.save(point.bytes, { ...point.summary, savedAt: Date.now() });
      if (this.runId === runId) this.saveStatus = { step: saved.step, savedAt: saved.savedAt, error: null };
    } catch (e) {
      if (this.runId === runId) this.saveStatus = { ...this.saveStatus, error: errorMessage(e) };
    }
    if (this.runId === runId) this.batcher.flush(true);
  }

  private refuseIfDiverged(): void {
    const d = this.diverged;
    if (d) throw new Error(`training stopped at step ${d.step} because it went wrong: restore the last good state (step ${d.restoreStep}) or Reset first`);
  }

  /** Frees the model in use and all that belonged to its run, so that `setup`'s run (returned, as kept) starts from nothing in the save slot `runKey`. */
  private clearRun(setup: TrainingSetup, runKey: string, saved: SaveStatus | null = null): TrainingSetup {
    this.trainer?.dispose();
    this.trainer = null;
    this.batcher.clear();
    this.changes = [];
    this.runChanges = [];
    this.runId++;
    this.elapsedBefore = 0;
    this.runningSince = null;
    this.setup = { ...setup, params: { ...setup.params } };
    this.newSaveSlot(runKey, saved);
    this.newRestorePoint(null);
    this.chart.reset();
    return this.setup;
  }

  private newSaveSlot(runKey: string, saved: SaveStatus | null = null): void {
    this.runKey = runKey;
    this.saveStatus = saved;
    this.saveWanted = false;
    this.firstSaveDue = saved === null;
    this.lastSaveAt = this.clock.now();
  }

  /** Saves the run soon (after a save in flight, if any), between two steps. */
  private requestSave(): void {
    if (!this.store || this.autosavePaused) return;
    this.saveWanted = true;
    if (this.saving) return;
    this.saving = (async () => {
      while (this.saveWanted) {
        this.saveWanted = false;
        await this.saveNow();
      }
    })().finally(() => {
      this.saving = null;
    });
  }

  private async saveNow(): Promise<void> {
    const store = this.store;
    const runId = this.runId;
    const runKey = this.runKey;
    this.lastSaveAt = this.clock.now();
    try {
      const encoded = await this.lock.run(async () => {
        const lockedAt = this.clock.now();
        const trainer = this.trainer;
        // A run with no step has nothing to lose; a run replaced meanwhile is not this save's; a run
        // that failed (a NaN loss) would overwrite its last good save with a broken model; a model
        // on a lost device (being recovered) cannot be read.
        if (!store || !trainer || this.runId !== runId || trainer.moco.stepCount === 0 || this.state === 'error' || this.diverged || this.recovering) return null;
        const results = this.resultCount();
        if (this.saveStatus?.step === trainer.moco.stepCount && this.saveStatus.error === null && this.savedResults === results) return null;
        const setup = this.requireSetup();
        const bytes = await this.runBytes();
        const summary: Omit<SavedRun, 'id'> = {
          runKey,
          savedAt: Date.now(),
          step: trainer.moco.stepCount,
          preset: setup.preset,
          version: setup.version,
          batchSize: setup.batchSize,
          dataset: setup.dataset,
          datasetName: trainer.dataset.name,
          datasetSize: trainer.dataset.size,
          bytes: bytes.byteLength,
          lastKnn: this.evaluation.knnResults().at(-1)?.accuracy ?? null,
          params: { ...trainer.moco.params },
          seed: setup.seed,
        };
        // The saved state becomes the restore point once the next step has passed the check.
        this.unverified = { bytes, step: summary.step, summary };
        this.lastRestorePointAt = this.clock.now();
        // What training waited for: the save's part under the lock, between two steps.
        return { bytes, summary, results, blockedMs: this.clock.now() - lockedAt };
      });
      if (!encoded || !store) return;
      const writeStart = this.clock.now();
      const saved = await store.save(encoded.bytes, encoded.summary);
      const writeMs = this.clock.now() - writeStart;
      if (this.runId === runId) {
        this.saveStatus = { step: saved.step, savedAt: saved.savedAt, error: null, blockedMs: encoded.blockedMs, writeMs };
        this.savedResults = encoded.results;
      }
    } catch (e) {
      if (this.runId === runId) this.saveStatus = { ...(this.saveStatus ?? { step: 0, savedAt: 0 }), error: errorMessage(e) };
    }
    if (this.runId === runId) this.batcher.flush(true);
  }

  /** The kNN and probe results of the run in use (what its saves keep besides the weights). */
  private resultCount(): number {
    return this.evaluation.knnResults().length + this.evaluation.probeResults().length;
  }

  private requireStore(): SavedRunStore {
    if (!this.store) throw new Error('saved runs need the browser\'s storage (IndexedDB), which is not available here');
    return this.store;
  }

  /**
   * The checkpoint bytes of the current run, read from the model only if the run changed since the
   * last encode (a pause's save, then `checkpoint()` or `holdRun()`: one read); call under the lock.
   */
  private async runBytes(): Promise<Uint8Array> {
    const key = this.stateKey();
    if (this.lastEncoded?.key === key) return this.lastEncoded.bytes;
    const bytes = await this.encodeRun();
    this.lastEncoded = { key, bytes };
    return bytes;
  }

  /** What a checkpoint of the run holds that may change: within one run, the same key means the same bytes. */
  private stateKey(): string {
    const { moco } = this.requireTrainer();
    return JSON.stringify([this.runId, moco.stepCount, this.resultCount(), this.elapsed(), moco.params, this.setup]);
  }

  /** The checkpoint bytes of the current run, encoded now (every tensor read from the device); call under the lock. */
  private async encodeRun(): Promise<Uint8Array> {
    const trainer = this.requireTrainer();
    const setup = this.requireSetup();
    const knn = this.evaluation.knnResults();
    const probes = this.evaluation.probeResults();
    return encodeCheckpoint(trainer, {
      dataset: await this.identity(trainer.dataset),
      history: { chart: this.chart.all(), knn: knn.map(knnPointOf), probes: probes.map(probePointOf) },
      // The app's own record: its setup form, and the kNN and probe results whole (per-class counts included; JSON writes NaN as null).
      client: { app: { setup: { ...setup, params: { ...trainer.moco.params } }, elapsedMs: this.elapsed(), knn, probes, changes: this.runChanges } },
    });
  }

  private modelInfo(trainer: Trainer, start: number): ModelInfo {
    return {
      parameterCount: trainer.moco.encoderQ.parameterCount(),
      batchesPerEpoch: trainer.batchesPerEpoch,
      datasetName: trainer.dataset.name,
      datasetSize: trainer.dataset.size,
      setupMs: this.clock.now() - start,
    };
  }

  private identity(dataset: ImageDataset): Promise<DatasetIdentity> {
    let identity = this.identities.get(dataset);
    if (!identity) {
      identity = datasetIdentity(dataset);
      this.identities.set(dataset, identity);
    }
    return identity;
  }

  /** The app setup of a checkpoint: the app's own record, or (a headless trainer's file) one read from its MoCo configuration. */
  private setupOf(checkpoint: Checkpoint): TrainingSetup {
    const m = checkpoint.manifest;
    const app = m.client.app as { setup?: TrainingSetup } | undefined;
    const live = { ...m.live };
    if (app?.setup && typeof app.setup === 'object') return { ...app.setup, params: live };
    const recorded = m.setup.dataset;
    // The headless trainer's built-in images are those the app generates with the same size and seed;
    // its run on the app's CIFAR-10 sample (--data public/cifar10-sample) is a run on the sample.
    const builtIn = recorded.name.startsWith('Built-in shapes');
    const sample = recorded.name === SAMPLE_TRAIN_NAME;
    return {
      version: m.setup.method,
      preset: m.setup.preset,
      batchSize: m.setup.batchSize,
      dataset: builtIn ? 'synthetic' : sample ? 'sample' : 'files',
      datasetSize: recorded.size,
      stepBudget: m.setup.config.schedule.totalSteps,
      seed: m.setup.config.seed,
      params: live,
    };
  }

  /** The images the checkpoint's run trained on, found among those at hand and checked by content hash. */
  private async imagesFor(checkpoint: Checkpoint, setup: TrainingSetup): Promise<ImageDataset> {
    const recorded = checkpoint.manifest.setup.dataset;
    const again =
      setup.dataset === 'sample'
        ? 'choose the CIFAR-10 sample in the Dataset menu, then resume'
        : `load ${recorded.name} (${recorded.size} images) in the Data panel again, then resume`;
    if (setup.dataset !== 'synthetic' && !this.data.has(setup.dataset)) throw new CheckpointError(checkpoint.file, `the run trained on ${recorded.name}, which is not loaded: ${again}`);
    const train = this.data.peek(setup);
    const mismatch = datasetMismatch(recorded, await this.identity(train));
    if (mismatch) throw new CheckpointError(checkpoint.file, `the run trained on other images than those loaded (${mismatch}): ${again}`);
    return train;
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopRequested) {
        await this.lock.run(() => this.trainOneStep(() => this.elapsed()));
        await this.evaluation.afterStep();
        if (this.store && ((this.firstSaveDue && this.saveStatus === null) || this.clock.now() - this.lastSaveAt >= this.autosaveEveryMs)) {
          this.firstSaveDue = false;
          this.requestSave();
        }
        if (this.budgetReached()) {
          this.state = 'finished';
          break;
        }
        // Between steps, let queued calls (pause, setParams, export) in.
        await yieldToEventLoop();
      }
      if (this.state === 'running') this.state = 'paused';
    } catch (e) {
      // A step that failed on a lost device: the recovery takes the run on (and resumes training).
      if (await this.lostDuring()) this.state = 'paused';
      else this.fail(e);
    } finally {
      this.elapsedBefore = this.elapsed();
      this.runningSince = null;
      this.loop = null;
      this.stopRequested = false;
      this.batcher.flush(true);
      // Every pause (and the end of the budget) saves the run.
      this.requestSave();
    }
  }

  private async trainOneStep(elapsed: () => number): Promise<StepRecord> {
    const trainer = this.requireTrainer();
    const negatives = trainer.moco.queue.filled;
    await this.snapshotIfDue();
    // The run changes now: the bytes last encoded no longer hold it, and are not kept for nothing
    // (a whole checkpoint: tens of MB for ResNet-18; a restore point that took them keeps its own reference).
    this.lastEncoded = null;
    // The first step allocates the rest (activations, gradients): an out-of-memory shows there.
    const { result: s, outOfMemory } = trainer.moco.stepCount === 0 ? await withOutOfMemoryScope(() => trainer.step()) : { result: await trainer.step(), outOfMemory: null };
    if (outOfMemory) {
      const setup = this.requireSetup();
      trainer.dispose();
      this.trainer = null;
      throw new Error(outOfMemoryMessage('in the first step', setup, trainer.moco.queue.capacity, outOfMemory));
    }
    const record = stepRecord(s, negatives, elapsed());
    // Every step: the statistics are on the CPU already. A bad step stops training here, under the
    // lock, before a save or a restore point can take its state.
    const setup = this.requireSetup();
    const verdict = checkStep(s, APP_KNOBS, mocoConfig(setup.version, setup.preset, { batchSize: setup.batchSize }).schedule.baseLr);
    // The warning follows the verdict before the step's record goes out: a batch that carries a step carries its warning.
    const warned = this.lossWarning;
    this.lossWarning = verdict.kind === 'blow-up' ? blowUpWarning(warned, s, verdict.message) : null;
    this.batcher.push(record);
    this.chart.push(chartPointOf(record));
    if (verdict.kind === 'non-finite') {
      this.unverified = null;
      const restoreStep = this.restorePoint?.step ?? 0;
      const message = `Training stopped: ${verdict.message}. Restore the last good state (step ${restoreStep}) to go on from there.`;
      this.diverged = { kind: verdict.kind, step: s.step, message, restoreStep };
      void this.repairSave();
      throw new Error(message);
    }
    // The page hears at once when a warning begins or ends.
    if (!warned !== !this.lossWarning) this.batcher.flush(true);
    // A finite blow-up: training goes on, as the headless trainer's does, and the page warns. The
    // state its loss was computed from is no good state to go back to, should the loss turn NaN.
    // The state before a step that passed is.
    if (verdict.kind === 'ok' && this.unverified?.step === s.step - 1) this.restorePoint = this.unverified;
    if (this.unverified && this.unverified.step < s.step) this.unverified = null;
    return record;
  }

  private emit(records: StepRecord[]): void {
    const setup = this.setup;
    const batch: StatsBatch = {
      status: this.status(),
      count: records.length,
      columns: statColumns(records),
      paramChanges: this.changes,
      queue: this.trainer ? queueSnapshot(this.trainer.moco.queue) : emptyQueue(setup?.params.queueSize ?? 0),
      params: setup ? { ...setup.params } : { momentum: 0, queueSize: 0, temperature: 0, learningRate: 0 },
    };
    this.changes = [];
    this.onStats(batch);
  }

  private elapsed(): number {
    return this.elapsedBefore + (this.runningSince === null ? 0 : this.clock.now() - this.runningSince);
  }

  private budgetReached(): boolean {
    const budget = this.setup?.stepBudget ?? 0;
    return budget > 0 && (this.trainer?.moco.stepCount ?? 0) >= budget;
  }

  private fail(e: unknown): void {
    // What fails while the device is being recovered failed on the lost device: the recovery says so.
    if (this.recovering) {
      this.state = 'paused';
      return;
    }
    this.state = 'error';
    // After a lost device every call fails; what the user needs to hear is that the device was lost.
    this.error = this.gpuLost ?? errorMessage(e);
  }

  private requireSetup(): TrainingSetup {
    if (!this.setup) throw new Error('configure() first');
    return this.setup;
  }

  private requireTrainer(): Trainer {
    if (!this.trainer) throw new Error('no model yet: configure() first');
    return this.trainer;
  }

  /** Held-out images for evaluation; null before the first configure(). */
  protected heldOutDataset(): ImageDataset | null {
    return this.data.heldOut;
  }
}

/** Runs `work`, kept in `calls` until it settles: what a Start waits for (a run being put in place, a single step). */
async function inFlight<T>(calls: Set<Promise<unknown>>, work: () => Promise<T>): Promise<T> {
  const done = work();
  calls.add(done);
  try {
    return await done;
  } finally {
    calls.delete(done);
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


/** An out-of-memory on the GPU, with the choices that size the model and the queue. */
function outOfMemoryMessage(when: string, setup: TrainingSetup, queueSize: number, detail: string): string {
  return `the GPU ran out of memory ${when} (preset ${setup.preset}, batch ${setup.batchSize}, Queue size K ${queueSize.toLocaleString('en-US')}; the browser said: ${detail}): choose a smaller batch, preset or queue, then Reset`;
}

/** A run freed for a rebuild that failed (`TrainingService.lostRun`): what failed, why, and the run's save slot and step. */
export interface LostRun {
  what: string;
  error: string;
  runKey: string;
  step: number;
}

/** A state to go back to: checkpoint bytes, its step, and (a save's) its summary for the store. */
interface RestorePoint {
  bytes: Uint8Array;
  step: number;
  summary: Omit<SavedRun, 'id'> | null;
}

/** How many of the encoders' weights (parameters and batch-norm statistics) are NaN or infinite, of how many. */
async function nonFiniteWeights(encoders: Encoder[]): Promise<{ bad: number; total: number }> {
  const variables = encoders.flatMap((e) => [...e.parameters.values(), ...e.bnStatistics.values()]);
  const count = tf.tidy(() => tf.addN(variables.map((v) => tf.logicalNot(tf.isFinite(v)).cast('int32').sum())));
  try {
    const bad = (await count.data())[0];
    return { bad, total: variables.reduce((n, v) => n + v.size, 0) };
  } finally {
    count.dispose();
  }
}

/** Refuses to hand out weights with NaN or infinite values (a run gone wrong), saying which and what to do. */
async function refuseNonFinite(encoders: Encoder[], what: string): Promise<void> {
  const { bad, total } = await nonFiniteWeights(encoders);
  if (bad > 0) {
    throw new Error(`the weights hold ${bad.toLocaleString('en-US')} NaN or infinite values of ${total.toLocaleString('en-US')} (training went wrong): restore the last good state or Reset, then ${what}`);
  }
}

/** A kNN result as a checkpoint keeps it. */
function knnPointOf(r: KnnResult): KnnPoint {
  return {
    step: r.step,
    output: 'backbone',
    k: r.k,
    accuracy: r.accuracy,
    perClass: r.perClass.map((c) => (Number.isFinite(c.accuracy) ? c.accuracy : null)),
    bankSize: r.bankSize,
    queryCount: r.queryCount,
    seconds: r.seconds,
  };
}

/** A probe result as a checkpoint keeps it. */
function probePointOf(r: ProbeResult): ProbePoint {
  return {
    step: r.step,
    accuracy: r.accuracy,
    perClass: r.perClass.map((c) => (Number.isFinite(c.accuracy) ? c.accuracy : null)),
    epochs: r.epochs,
    seconds: r.seconds,
  };
}

/** A probe result read back from the app's record (where JSON wrote NaN as null), as the page shows it. */
function probeResultOf(r: ProbeResult, runId: number): ProbeResult {
  return {
    ...r,
    runId,
    finalLoss: r.finalLoss ?? Number.NaN,
    perClass: r.perClass.map((c) => ({ ...c, accuracy: c.accuracy ?? Number.NaN })),
  };
}

/** A headless trainer's probe point as the page shows it (per-class counts are not kept: only the accuracies). */
function probeResultOfPoint(p: ProbePoint, runId: number, train: ImageDataset, heldOut: ImageDataset | null): ProbeResult {
  return {
    runId,
    step: p.step,
    epochs: p.epochs,
    accuracy: p.accuracy,
    perClass: p.perClass.map((a) => ({ correct: 0, total: 0, accuracy: a ?? Number.NaN })),
    classNames: [...train.classNames],
    finalLoss: Number.NaN,
    trainSize: train.size,
    testSize: heldOut?.size ?? 0,
    featureDim: Number.NaN,
    seconds: p.seconds,
  };
}

/** A kept kNN point as the page shows it again (per-class counts are not kept: only the accuracies). */
function knnResultOf(p: KnnPoint, runId: number, classNames: readonly string[]): KnnResult {
  return {
    runId,
    step: p.step,
    accuracy: p.accuracy,
    perClass: p.perClass.map((a) => ({ correct: 0, total: 0, accuracy: a ?? Number.NaN })),
    classNames: [...classNames],
    k: p.k,
    t: KNN_T,
    bankSize: p.bankSize,
    queryCount: p.queryCount,
    seconds: p.seconds,
    trigger: 'monitor',
  };
}

/** What a checkpoint holds of its run's history, as the page shows it (results with run id 0 until the run has its own). */
interface SavedHistory {
  records: StepRecord[];
  knn: KnnResult[];
  probes: ProbeResult[];
  elapsedMs: number;
}

/** Reads a checkpoint's chart points, kNN and probe results; throws on damaged ones. */
function savedHistory(checkpoint: Checkpoint, setup: TrainingSetup, train: ImageDataset, batchesPerEpoch: number, heldOut: ImageDataset | null): SavedHistory {
  const app = checkpoint.manifest.client.app as { elapsedMs?: unknown; knn?: KnnResult[]; probes?: ProbeResult[] } | undefined;
  const elapsed = app?.elapsedMs;
  const history = checkpoint.manifest.history;
  return {
    records: (history.chart ?? []).map((p) => recordOfChartPoint(p, setup.batchSize, batchesPerEpoch)),
    knn: Array.isArray(app?.knn) ? app.knn.map((r) => ({ ...r, runId: 0, perClass: r.perClass.map((c) => ({ ...c, accuracy: c.accuracy ?? Number.NaN })) })) : history.knn.map((p) => knnResultOf(p, 0, train.classNames)),
    // The probe results come back whole from the app's own record; a headless trainer's file keeps their accuracies.
    probes: Array.isArray(app?.probes) ? app.probes.map((r) => probeResultOf(r, 0)) : (history.probes ?? []).map((p) => probeResultOfPoint(p, 0, train, heldOut)),
    elapsedMs: typeof elapsed === 'number' && elapsed >= 0 ? elapsed : 0,
  };
}

/** The warning of a finite blown-up loss at step `s`, going on from the stretch's `earlier` one. */
function blowUpWarning(earlier: LossWarning | null, s: StepStats, verdict: string): LossWarning {
  const below = (BLOW_UP_FACTOR * chanceLoss(s.queueCapacity)).toFixed(2);
  const message = `${capitalise(verdict)}. Training goes on; this warning ends by itself at the first step whose loss is back below ${below} (${BLOW_UP_FACTOR} × ln(K+1)).`;
  return { kind: 'blow-up', fromStep: earlier?.fromStep ?? s.step, step: s.step, steps: (earlier?.steps ?? 0) + 1, message };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What the page says of GPU errors no error scope caught, on a device that stayed: what happened, what it may have cost, what to do. */
export function gpuErrorMessage(w: Omit<GpuErrorWarning, 'message'>): string {
  const when = w.firstStep === w.step ? `at step ${w.step}` : `from step ${w.firstStep} to step ${w.step}`;
  const which = w.count === 1 ? `an error ${when} that no check caught` : `${w.count} errors that no check caught, ${when}; the latest`;
  return (
    `The GPU reported ${which}: ${w.error}. The GPU skipped the commands that failed, so the steps around it may be wrong. ` +
    'Training goes on (a loss that turns NaN still stops it, with the last good state to restore); if the errors repeat, Restart the worker: it goes on from the last save.'
  );
}

function newRunKey(): string {
  return `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A parameter change as a checkpoint keeps it (the page numbers runs; a checkpoint does not). */
type RunChange = Omit<ParamChange, 'runId'>;

const LIVE_PARAM_NAMES: readonly (keyof LiveParams)[] = ['momentum', 'queueSize', 'temperature', 'learningRate'];

/**
 * The parameter changes in the app's record of a checkpoint: none in a headless trainer's file or
 * one saved before changes were kept, and entries that are not changes of live parameters are left out.
 */
function changesOf(app: unknown): RunChange[] {
  const changes = (app as { changes?: unknown } | undefined)?.changes;
  if (!Array.isArray(changes)) return [];
  return changes.flatMap((c: { fromStep?: unknown; params?: unknown }) => {
    if (!Number.isInteger(c?.fromStep) || typeof c.params !== 'object' || c.params === null) return [];
    const entries = Object.entries(c.params).filter(([k, v]) => LIVE_PARAM_NAMES.includes(k as keyof LiveParams) && typeof v === 'number' && Number.isFinite(v));
    return entries.length > 0 ? [{ fromStep: c.fromStep as number, params: Object.fromEntries(entries) as Partial<LiveParams> }] : [];
  });
}
