import { IMAGE_BYTES, type ImageDataset } from './dataset';
import { DatasetError, formatCount } from './errors';

/**
 * A dataset from a folder of pictures, one sub-folder per class (torchvision's ImageFolder layout):
 * `cats/001.jpg`, `dogs/a/b.png` (deeper folders belong to their top sub-folder). The decoding is
 * passed in: createImageBitmap in a page or Worker (browserImages.ts), pure-JS PNG/JPEG in Node.
 */

export interface ImageFile {
  /** Path relative to the dataset folder, with '/' separators, e.g. `cats/001.jpg`. */
  path: string;
  /** A File/Blob (browser), bytes, or a function that reads them on demand (Node, to spare memory). */
  data: Blob | Uint8Array | (() => Promise<Uint8Array>);
}

/** Decodes one file into a 32×32 RGB image (HWC bytes); throws DatasetError naming the file when it is not an image. */
export type ImageDecoder = (file: ImageFile) => Promise<Uint8Array>;

export interface ImageFolderOptions {
  /** The folder's name, for messages and the dataset's name. */
  folder: string;
  decode: ImageDecoder;
  /** Called after each decoded image with images done and total. */
  onProgress?: (done: number, total: number) => void;
  /** Images decoded at once (default 8): the browser decodes off the main thread, in parallel. */
  concurrency?: number;
}

/** Files that operating systems and tools leave in folders and that are never images of the dataset. */
export function isIgnoredFile(path: string): boolean {
  return path.split('/').some((part) => part.startsWith('.') || part === '__MACOSX' || /^(thumbs\.db|desktop\.ini)$/i.test(part));
}

/**
 * `root/cats/1.jpg` → `cats/1.jpg`: what an `<input webkitdirectory>` File's `webkitRelativePath`
 * needs before it is given to `datasetFromImageFiles`.
 */
export function withoutTopFolder(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

export async function fileBytes(file: ImageFile): Promise<Uint8Array> {
  if (file.data instanceof Uint8Array) return file.data;
  if (typeof file.data === 'function') return file.data();
  return new Uint8Array(await file.data.arrayBuffer());
}

/**
 * Classes are the sub-folders that hold images, sorted by name; images come class by class in path
 * order, so the same folder always gives the same dataset. Nothing is returned unless every file
 * decodes: the first problem throws DatasetError.
 */
export async function datasetFromImageFiles(files: readonly ImageFile[], options: ImageFolderOptions): Promise<ImageDataset> {
  const { folder, decode, onProgress, concurrency = 8 } = options;
  const wanted = files.filter((f) => !isIgnoredFile(f.path)).sort((a, b) => compareNames(a.path, b.path));
  if (wanted.length === 0) {
    throw new DatasetError(folder, 'has no images: put each class\'s images in a sub-folder named after the class (e.g. cats/001.jpg)');
  }
  const loose = wanted.find((f) => !f.path.includes('/'));
  if (loose) {
    throw new DatasetError(
      `${folder}/${loose.path}`,
      'is not in a class sub-folder: every image must sit in a sub-folder named after its class (e.g. cats/001.jpg)',
    );
  }
  const classNames = [...new Set(wanted.map((f) => f.path.slice(0, f.path.indexOf('/'))))].sort(compareNames);
  if (classNames.length > 256) throw new DatasetError(folder, `has ${formatCount(classNames.length)} class sub-folders; at most 256 are supported`);
  const classIndex = new Map(classNames.map((name, i) => [name, i]));

  const images = new Uint8Array(wanted.length * IMAGE_BYTES);
  const labels = new Uint8Array(wanted.length);
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async () => {
    while (next < wanted.length && !failed) {
      const i = next++;
      const file = wanted[i];
      let pixels: Uint8Array;
      try {
        pixels = await decode(file);
      } catch (e) {
        failed = true; // the other decoders stop at their next image
        throw e;
      }
      if (pixels.length !== IMAGE_BYTES) throw new Error(`the decoder returned ${pixels.length} bytes for ${file.path}, not ${IMAGE_BYTES}`);
      images.set(pixels, i * IMAGE_BYTES);
      labels[i] = classIndex.get(file.path.slice(0, file.path.indexOf('/')))!;
      onProgress?.(++done, wanted.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, wanted.length)) }, worker));
  return { name: folder, images, labels, classNames, size: wanted.length };
}

/** Natural order ("img2" before "img10"), the same on every platform. */
function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
