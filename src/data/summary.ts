import { classCounts, IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from './dataset';

/** What a loaded dataset holds, in plain data a Worker can post to the page. */
export interface DatasetSummary {
  name: string;
  size: number;
  classNames: readonly string[];
  /** Images per class, in class order. */
  counts: number[];
}

export function summarize(ds: ImageDataset): DatasetSummary {
  return { name: ds.name, size: ds.size, classNames: ds.classNames, counts: classCounts(ds) };
}

/**
 * Image `i` as 32×32 RGBA, ready for `new ImageData(pixels, 32, 32)` on a canvas; a copy, so it can
 * be transferred out of a Worker without detaching the dataset.
 */
export function thumbnailRGBA(ds: ImageDataset, i: number): Uint8ClampedArray<ArrayBuffer> {
  if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new RangeError(`image ${i} is outside 0..${ds.size - 1}`);
  const rgb = ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
  const rgba = new Uint8ClampedArray(IMAGE_SIZE * IMAGE_SIZE * 4);
  for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
    rgba[4 * p] = rgb[3 * p];
    rgba[4 * p + 1] = rgb[3 * p + 1];
    rgba[4 * p + 2] = rgb[3 * p + 2];
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

/** The indices of the first `perClass` images of each class, class after class: a gallery's worth. */
export function samplesPerClass(ds: ImageDataset, perClass: number): number[][] {
  const picked = ds.classNames.map(() => [] as number[]);
  for (let i = 0; i < ds.size; i++) {
    const bucket = picked[ds.labels[i]];
    if (bucket.length < perClass) bucket.push(i);
  }
  return picked;
}

/** The first `count` images (all of them when there are fewer): CIFAR files are class-balanced in any prefix of 10·m records. */
export function firstImages(ds: ImageDataset, count: number, name = ds.name): ImageDataset {
  if (count >= ds.size) return ds;
  return {
    name,
    images: ds.images.subarray(0, count * IMAGE_BYTES),
    labels: ds.labels.subarray(0, count),
    classNames: ds.classNames,
    size: count,
  };
}
