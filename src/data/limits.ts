import { IMAGE_BYTES } from './dataset';

/**
 * Sizes read from a user's file are checked against these before anything is allocated, so a
 * damaged or hostile header ends in a message naming the file, not in a RangeError or a tab that
 * runs out of memory.
 */

/** Images one dataset may hold: 500,000 is 1.5 GB of decoded pixels, over 8× all of CIFAR-10. */
export const MAX_DATASET_IMAGES = 500_000;

/** Pixels of one picture in an image folder, as jpeg-js's own cap: 200 megapixels is 800 MB of RGBA. */
export const MAX_IMAGE_PIXELS = 200_000_000;

/** Tar members held whole (long names, pax headers, class-name files): real ones are under a kilobyte. */
export const MAX_TAR_METADATA_BYTES = 1 << 20;

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** What the image limit means in memory, for messages. */
export const MAX_DATASET_DECODED = formatBytes(MAX_DATASET_IMAGES * IMAGE_BYTES);
