import { Rng } from '../util/random';

/**
 * Epoch-wise sampling without replacement: each epoch visits a fresh permutation of the dataset
 * in full batches (a ragged last batch is dropped, so every step has the same shapes).
 */
export class BatchSampler {
  private readonly rng: Rng;
  private order: Int32Array;
  private cursor = 0;
  private epochIndex = 0;

  constructor(
    readonly datasetSize: number,
    readonly batchSize: number,
    seed: number,
  ) {
    if (datasetSize < batchSize) throw new Error(`the dataset has ${datasetSize} images, fewer than one batch of ${batchSize}`);
    this.rng = new Rng(seed);
    this.order = this.rng.permutation(datasetSize);
  }

  /** Completed passes over the data plus the fraction of the current one. */
  get epoch(): number {
    return this.epochIndex + this.cursor / this.datasetSize;
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.datasetSize / this.batchSize);
  }

  next(): Int32Array {
    if (this.cursor + this.batchSize > this.datasetSize) {
      this.order = this.rng.permutation(this.datasetSize);
      this.cursor = 0;
      this.epochIndex++;
    }
    const batch = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += this.batchSize;
    return batch;
  }
}
