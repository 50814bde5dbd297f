import { Rng, type RngState } from '../util/random';

/** Where a sampler stands: the epoch's order, the next position in it, and the generator of later orders. */
export interface SamplerState {
  order: Int32Array;
  cursor: number;
  epochIndex: number;
  rng: RngState;
}

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

  state(): SamplerState {
    return { order: this.order.slice(), cursor: this.cursor, epochIndex: this.epochIndex, rng: this.rng.state() };
  }

  /** Continues from a `state()` (a resumed run): the same batches follow. */
  restore(state: SamplerState): void {
    const { order, cursor, epochIndex } = state;
    if (order.length !== this.datasetSize) throw new Error(`a sampler order of ${order.length} images does not fit a dataset of ${this.datasetSize}`);
    if (!(Number.isInteger(cursor) && cursor >= 0 && cursor <= this.datasetSize && Number.isInteger(epochIndex) && epochIndex >= 0)) {
      throw new Error(`sampler position (cursor ${cursor}, epoch ${epochIndex}) does not fit a dataset of ${this.datasetSize}`);
    }
    this.rng.restore(state.rng);
    this.order = order.slice();
    this.cursor = cursor;
    this.epochIndex = epochIndex;
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
