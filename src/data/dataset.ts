import { IMAGE_CHANNELS, IMAGE_SIZE } from '../util/imageShape';

/** Images are 32×32 RGB, stored interleaved (HWC) as bytes, the layout tfjs takes for a [N, 32, 32, 3] tensor. */
export { IMAGE_CHANNELS, IMAGE_SIZE };
export const IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * IMAGE_CHANNELS;

export interface ImageDataset {
  /** Human-readable origin, e.g. "Built-in shapes (train)" or a file name. */
  readonly name: string;
  /** `size × 32 × 32 × 3` bytes, image after image, rows top to bottom, RGB interleaved. */
  readonly images: Uint8Array;
  /** One class index per image. */
  readonly labels: Uint8Array;
  readonly classNames: readonly string[];
  readonly size: number;
}

/** Number of images per class, in class order. */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(ds.classNames.length).fill(0);
  for (let i = 0; i < ds.size; i++) counts[ds.labels[i]]++;
  return counts;
}

/** What training data of one class is told: it trains, but its evaluation means nothing. */
export function oneClassWarning(name: string, className: string): string {
  return `${name}: one class only (${className}): MoCo trains without labels, but kNN and probe accuracy need two classes or more`;
}

/**
 * The one-class warning for data that names several classes but whose images are all of one (a
 * CIFAR file of a single label, a folder cut to its first images); null otherwise. Data naming one
 * class only (a folder of one class folder) is told so where it is read.
 */
export function singleLabelWarning(ds: ImageDataset): string | null {
  if (ds.size === 0 || ds.classNames.length < 2) return null;
  const first = ds.labels[0];
  for (let i = 1; i < ds.size; i++) if (ds.labels[i] !== first) return null;
  return oneClassWarning(ds.name, ds.classNames[first]);
}

/** The bytes of image `i` (a view, not a copy). */
export function imageAt(ds: ImageDataset, i: number): Uint8Array {
  return ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
}

/** A dataset made of the given images of `ds`, in that order (copies the bytes). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const images = new Uint8Array(indices.length * IMAGE_BYTES);
  const labels = new Uint8Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    images.set(imageAt(ds, indices[j]), j * IMAGE_BYTES);
    labels[j] = ds.labels[indices[j]];
  }
  return { name, images, labels, classNames: ds.classNames, size: indices.length };
}
