/**
 * `--record FILE.zip`: the classroom recording of a headless run (src/train/recording.ts). It reads
 * the run from the same records `--log-json` writes (steps, kNN, probes), timed as they come, and
 * ends with the run's final checkpoint, encoded as `--checkpoint` encodes it.
 */
import { cpus } from 'node:os';
import { decodeCheckpointManifest, type ChartPoint, type DatasetIdentity, type RunHistory } from '../train/checkpoint';
import { encodeRecording, RECORDED_FIELDS, type RecordedStep, type RecordingContent } from '../train/recording';
import type { Trainer } from '../train/trainer';
import type { ImageDataset } from '../data/dataset';
import { shellQuote } from './checkpointing';
import type { JsonLog, LogRecord } from './jsonLog';
import { writeAtomically } from './fileWrites';
import type { StartedBackend } from '../util/nodeWebgpu';

export class Recorder {
  private readonly steps: RecordedStep[] = [];
  /** The run's time when each evaluation's record came, by `step:output` (kNN) and step (probe). */
  private readonly knnAt = new Map<string, number>();
  private readonly probeAt = new Map<number, number>();
  private readonly started = performance.now();

  constructor(
    readonly path: string,
    log: JsonLog,
    /** The run's history: the recorder adds the chart points, so the final checkpoint shows the charts when resumed. */
    private readonly history: RunHistory,
  ) {
    log.listen((r) => this.record(r));
  }

  private elapsed(): number {
    return performance.now() - this.started;
  }

  private record(r: LogRecord): void {
    if (r.kind === 'step') {
      const s = r as unknown as Omit<RecordedStep, 'negatives' | 'elapsedMs'>;
      // The negatives a step compared against: the queue's fill before it, the previous step's fill after it.
      const negatives = this.steps.at(-1)?.queueFilled ?? 0;
      const step = Object.fromEntries(RECORDED_FIELDS.map((f) => [f, Number(f === 'negatives' ? negatives : f === 'elapsedMs' ? this.elapsed() : s[f])])) as RecordedStep;
      this.steps.push(step);
      const { loss, contrastiveAccuracy, meanPositiveSimilarity, meanNegativeSimilarity, queueFilled, queueCapacity, meanKeyAge, learningRate, momentum, temperature, keyLag, keyConsistency, imagesPerSecond } = step;
      const point: ChartPoint = { step: step.step, loss, contrastiveAccuracy, meanPositiveSimilarity, meanNegativeSimilarity, queueFilled, queueCapacity, meanKeyAge, learningRate, momentum, temperature, keyLag, keyConsistency, imagesPerSecond };
      this.history.chart.push(point);
    } else if (r.kind === 'knn') this.knnAt.set(`${r.step}:${r.output}`, this.elapsed());
    else if (r.kind === 'probe') this.probeAt.set(r.step as number, this.elapsed());
  }

  /** Writes the recording (to a temporary file renamed over FILE); false, with the error printed, when it cannot. */
  async write(run: {
    trainer: Trainer;
    checkpoint: Uint8Array;
    dataset: DatasetIdentity;
    heldOut: ImageDataset | undefined;
    backend: StartedBackend;
    argv: readonly string[];
    stepMs: number;
  }): Promise<boolean> {
    const { trainer, checkpoint, heldOut } = run;
    const config = trainer.config;
    const ran = this.steps.length;
    const method = config.arch.head === 'mlp' ? 'v2' : 'v1';
    const preset = decodeCheckpointManifest(checkpoint, this.path).setup.preset;
    const epochs = trainer.moco.stepCount / trainer.batchesPerEpoch;
    const content: RecordingContent = {
      title: `MoCo ${method}, ${preset} at batch ${config.batchSize}, ${epochs >= 1 ? `${epochs.toFixed(Number.isInteger(epochs) ? 0 : 1)} epochs` : `${trainer.moco.stepCount} steps`} on ${trainer.dataset.name.replace(/ \(train\)$/, '')}`,
      made: {
        date: new Date().toISOString(),
        device: deviceOf(run.backend.adapter),
        backend: run.backend.line.replace(/^backend: /, ''),
        imagesPerSecond: run.stepMs > 0 ? (ran * config.batchSize * 1000) / run.stepMs : 0,
        trainSeconds: run.stepMs / 1000,
        wallSeconds: this.elapsed() / 1000,
        command: `npm run train -- ${run.argv.map(shellQuote).join(' ')}`,
      },
      setup: {
        preset,
        method,
        batchSize: config.batchSize,
        config,
        dataset: run.dataset,
        heldOut: heldOut ? { name: heldOut.name, size: heldOut.size } : null,
        steps: config.schedule.totalSteps,
        batchesPerEpoch: trainer.batchesPerEpoch,
      },
      classNames: [...trainer.dataset.classNames],
      steps: this.steps,
      // The headless trainer changes no live parameter during a run.
      changes: [],
      knn: this.history.knn.map((p) => ({ ...p, elapsedMs: this.knnAt.get(`${p.step}:${p.output}`) ?? 0 })),
      probes: this.history.probes.map((p) => ({ ...p, elapsedMs: this.probeAt.get(p.step) ?? 0 })),
    };
    const bytes = encodeRecording(content, checkpoint, trainer.moco.stepCount);
    if (!(await writeAtomically(this.path, bytes, 'the recording', '--record'))) return false;
    console.log(`recording: ${this.path} (${ran} steps, ${content.knn.length} kNN and ${content.probes.length} probe results, final model; ${(bytes.byteLength / 1e6).toFixed(2)} MB)`);
    return true;
  }
}

/** The device in words: the WebGPU adapter the backend runs on, else the CPU's model. */
function deviceOf(adapter: string | null): string {
  if (process.env.MOCO_RECORD_DEVICE) return adapter ? `${process.env.MOCO_RECORD_DEVICE} (${adapter})` : process.env.MOCO_RECORD_DEVICE;
  if (adapter) return adapter;
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'a CPU'} (${cpu.length} cores)`;
}
