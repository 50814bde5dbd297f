/**
 * The images training and evaluation read now: the built-in generated dataset (kept while its
 * size and seed stay), or loaded data (the user's files, or the CIFAR-10 sample shipped with the
 * app) once read. Held-out images come with each.
 */
import type { ImageDataset } from '../data/dataset';
import { generateSynthetic } from '../data/synthetic';
import { describeDataset, type UserDataset } from './datasets';
import type { DatasetInfo, DatasetName, TrainingSetup } from './types';

/** Data that is read rather than generated. */
export type LoadedDatasetName = Exclude<DatasetName, 'synthetic'>;

/** Held-out images generated for the built-in dataset (its test split). */
export const BUILT_IN_HELD_OUT_SIZE = 1000;

/** Data read (the user's files, or the sample), as `TrainingData` keeps it; what `loaded` gives and `putBack` takes. */
export type LoadedData = UserDataset & { key: string; source: LoadedDatasetName };

export class TrainingData {
  /** The images in use, and the loaded data they are (null: the built-in images), which the Data panel describes. */
  private current: { key: string; train: ImageDataset; heldOut: ImageDataset; loaded: LoadedData | null } | null = null;
  /** The user's files or the sample once read (a setup with that `dataset` trains on them); kept across resets. */
  private files: LoadedData | null = null;
  private filesRead = 0;
  private loadsInFlight = 0;

  /** Whether a setup with this loaded dataset can be built now. */
  has(source: LoadedDatasetName): boolean {
    return this.files?.source === source;
  }

  /** Held-out images of the dataset in use; null before the first `trainFor`. */
  get heldOut(): ImageDataset | null {
    return this.current?.heldOut ?? null;
  }

  /** Runs a load of the user's files: meanwhile a switch to the built-in data keeps the files read so far. */
  async loading<T>(load: () => Promise<T>): Promise<T> {
    this.loadsInFlight++;
    try {
      return await load();
    } finally {
      this.loadsInFlight--;
    }
  }

  /** Data that parsed: the next `trainFor` of a setup with `dataset: source` trains on it. */
  useFiles(files: UserDataset, source: LoadedDatasetName = 'files'): void {
    this.files = { ...files, key: `${source}:${++this.filesRead}`, source };
  }

  dropFiles(): void {
    this.files = null;
  }

  /** The data loaded now (null: none), to give to `putBack` once other data has been loaded meanwhile. */
  loaded(): LoadedData | null {
    return this.files;
  }

  /** Makes `data` (what `loaded` gave earlier) the loaded data again: a setup of its source trains on it, with its identity unchanged. */
  putBack(data: LoadedData): void {
    this.files = data;
  }

  /**
   * The training images a setup would train on, without making them the dataset in use (a resumed
   * run is checked against them first); pass them to `trainFor` to use them.
   */
  peek(setup: TrainingSetup): ImageDataset {
    if (setup.dataset !== 'synthetic') {
      if (this.files?.source !== setup.dataset) throw new Error(`no ${setup.dataset === 'sample' ? 'CIFAR-10 sample' : 'files'} loaded: load a dataset first`);
      return this.files.train;
    }
    const key = `${setup.dataset}:${setup.datasetSize}:${setup.seed}`;
    return this.current?.key === key ? this.current.train : generateSynthetic({ size: setup.datasetSize, seed: setup.seed, split: 'train' });
  }

  /** The training images of a setup, which become the dataset in use (`peeked`: what `peek` gave for it). */
  trainFor(setup: TrainingSetup, peeked?: ImageDataset): ImageDataset {
    if (setup.dataset !== 'synthetic') {
      if (this.files?.source !== setup.dataset) throw new Error(`no ${setup.dataset === 'sample' ? 'CIFAR-10 sample' : 'files'} loaded: load a dataset first`);
      const { key, train, heldOut } = this.files;
      this.current = { key, train, heldOut, loaded: this.files };
      return train;
    }
    // Back on the built-in data: the user's files (up to 180 MB for CIFAR-10) go, unless a load is about to use them.
    if (this.loadsInFlight === 0) this.files = null;
    const key = `${setup.dataset}:${setup.datasetSize}:${setup.seed}`;
    if (this.current?.key !== key) {
      // The old images can go while the new ones are generated.
      this.current = null;
      this.current = {
        key,
        train: peeked ?? generateSynthetic({ size: setup.datasetSize, seed: setup.seed, split: 'train' }),
        heldOut: generateSynthetic({ size: BUILT_IN_HELD_OUT_SIZE, seed: setup.seed, split: 'test' }),
        loaded: null,
      };
    }
    return this.current.train;
  }

  /** The dataset in use as the Data panel shows it; null before the first `trainFor`. */
  info(): DatasetInfo | null {
    const current = this.current;
    if (!current) return null;
    // The data in use, not the data loaded last: other data may be loaded (and put back) while a run is held aside.
    const files = current.loaded;
    if (files) {
      const { name, format, labels, heldOutFrom, source, warnings } = files;
      return describeDataset(current.train, current.heldOut, { source, name, format, labels, heldOutFrom, warnings });
    }
    return describeDataset(current.train, current.heldOut, { source: 'synthetic', name: 'Built-in shapes', format: 'builtin', labels: null, heldOutFrom: 'generated' });
  }
}
