import * as tf from '@tensorflow/tfjs';
import type { ImageDataset } from '../data/dataset';
import { BatchSampler } from '../data/sampler';
import { imagesTensor } from '../data/tensors';
import type { LiveParams, MocoConfig } from '../moco/config';
import { MoCo, type StepStats } from '../moco/moco';

export interface TrainStepStats extends StepStats {
  epoch: number;
  imagesSeen: number;
  /** Wall time of this step, data upload and statistics read-back included. */
  stepMs: number;
  imagesPerSecond: number;
  /** Tensors alive after the step: constant from step to step unless something leaks. */
  liveTensors: number;
}

/** MoCo fed from an in-memory dataset: what the Worker and the headless trainer both run. */
export class Trainer {
  readonly moco: MoCo;
  /** Which images come next; its state is part of a checkpoint. */
  readonly sampler: BatchSampler;
  /** Indices of the images of the last step's batch; null before a step. */
  lastBatch: Int32Array | null = null;

  constructor(
    readonly config: MocoConfig,
    readonly dataset: ImageDataset,
  ) {
    this.sampler = new BatchSampler(dataset.size, config.batchSize, config.seed + 1);
    this.moco = new MoCo(config);
  }

  get batchesPerEpoch(): number {
    return this.sampler.batchesPerEpoch;
  }

  /** What a weights export records of this run now (io/modelBundle's `BundleInfo`, evaluations aside). */
  bundleInfo(): { config: MocoConfig; liveParams: LiveParams; step: number; dataset: string; classNames: readonly string[] } {
    return { config: this.config, liveParams: { ...this.moco.params }, step: this.moco.stepCount, dataset: this.dataset.name, classNames: this.dataset.classNames };
  }

  setParams(p: Partial<LiveParams>): void {
    this.moco.setParams(p);
  }

  async step(): Promise<TrainStepStats> {
    const start = performance.now();
    // A step that throws takes nothing: the sampler gives the same batch again (the MoCo puts back its own state).
    const sampler = this.sampler.state();
    const batch = this.sampler.next();
    let stats: StepStats;
    try {
      const images = imagesTensor(this.dataset, batch);
      try {
        stats = await this.moco.step(images);
      } finally {
        images.dispose();
      }
    } catch (e) {
      this.sampler.restore(sampler);
      throw e;
    }
    this.lastBatch = batch;
    const stepMs = performance.now() - start;
    return {
      ...stats,
      epoch: this.sampler.epoch,
      imagesSeen: stats.step * this.config.batchSize,
      stepMs,
      imagesPerSecond: (this.config.batchSize * 1000) / stepMs,
      liveTensors: tf.memory().numTensors,
    };
  }

  dispose(): void {
    this.moco.dispose();
  }
}
