import { IMAGE_BYTES, oneClassWarning, type ImageDataset } from './dataset';
import { DatasetError, formatCount } from './errors';
import { MAX_DATASET_DECODED, MAX_DATASET_IMAGES } from './limits';

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

/** What to do with a file of an image folder that is no image, as the app and the headless trainer both say it: every file in a class folder is read as one. */
export const NOT_AN_IMAGE_FIX = 'move it out of the folder, which should hold only images';

/** Decodes one file into a 32×32 RGB image (HWC bytes); throws DatasetError naming the file when it is not an image. */
export type ImageDecoder = (file: ImageFile) => Promise<Uint8Array>;

export interface ImageFolderOptions {
  /** The folder's name, for messages and the dataset's name. */
  folder: string;
  /**
   * Where the folder is, as the user gave it (a command line's path, the picked folder's name): a
   * file that does not decode is named under it, where the user finds it; without it, inside the folder.
   */
  location?: string;
  decode: ImageDecoder;
  /** Called after each decoded image with images done and total. */
  onProgress?: (done: number, total: number) => void;
  /** Images decoded at once (default 8): the browser decodes off the main thread, in parallel. */
  concurrency?: number;
  /**
   * Every sub-folder seen, relative like the files' paths (`cats`, `dogs/a`), where the caller can
   * list folders: a class folder without images is then reported rather than silently dropped.
   */
  folders?: readonly string[];
  /** Entries the caller left out, with why (e.g. `cats/x.jpg: a symbolic link to a folder`): reported with the rest. */
  skipped?: readonly string[];
}

/**
 * A dataset from a folder, with what the user should know about it that did not stop the load:
 * class folders without images (left out), entries skipped (links to folders), a single class.
 * The policy, the same in the app and the headless trainer: whatever can train is loaded and
 * warned about; what cannot train (no images at all, a loose file, too many classes) is refused.
 */
export interface ImageFolderDataset extends ImageDataset {
  readonly warnings: readonly string[];
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
export async function datasetFromImageFiles(files: readonly ImageFile[], options: ImageFolderOptions): Promise<ImageFolderDataset> {
  const { folder, decode, onProgress, concurrency = 8, skipped = [] } = options;
  const location = options.location?.replace(/(.)\/+$/, '$1');
  const wanted = files.filter((f) => !isIgnoredFile(f.path)).sort((a, b) => compareNames(a.path, b.path));
  const skippedNote = skipped.length > 0 ? ` (skipped: ${listSome(skipped)})` : '';
  if (wanted.length === 0) {
    throw new DatasetError(folder, `has no images${skippedNote}: put each class's images in a sub-folder named after the class (e.g. cats/001.jpg)`);
  }
  if (wanted.length > MAX_DATASET_IMAGES) {
    throw new DatasetError(folder, `has ${formatCount(wanted.length)} files: at most ${formatCount(MAX_DATASET_IMAGES)} images (${MAX_DATASET_DECODED} decoded) are read`);
  }
  const loose = wanted.find((f) => !f.path.includes('/'));
  if (loose) {
    throw new DatasetError(
      `${location ?? folder}/${loose.path}`,
      'is not in a class sub-folder: every image must sit in a sub-folder named after its class (e.g. cats/001.jpg)',
    );
  }
  const classNames = [...new Set(wanted.map((f) => f.path.slice(0, f.path.indexOf('/'))))].sort(compareNames);
  if (classNames.length > 256) throw new DatasetError(folder, `has ${formatCount(classNames.length)} class sub-folders; at most 256 are supported`);
  const classIndex = new Map(classNames.map((name, i) => [name, i]));
  const warnings: string[] = [];
  const empty = [...new Set((options.folders ?? []).map((f) => f.split('/')[0]).filter((f) => !isIgnoredFile(f) && !classIndex.has(f)))].sort(compareNames);
  if (empty.length > 0) warnings.push(`${folder}: ${empty.length === 1 ? 'class folder' : `${empty.length} class folders`} without images left out: ${listSome(empty)}`);
  if (skipped.length > 0) warnings.push(`${folder}: skipped ${listSome(skipped)}`);
  if (classNames.length === 1) {
    warnings.push(oneClassWarning(folder, classNames[0]));
  }

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
        // The decoder names the file inside the folder; the message names it where the user finds it.
        if (location !== undefined && e instanceof DatasetError && e.file === file.path) throw new DatasetError(`${location}/${file.path}`, e.problem);
        throw e;
      }
      if (pixels.length !== IMAGE_BYTES) throw new Error(`the decoder returned ${pixels.length} bytes for ${file.path}, not ${IMAGE_BYTES}`);
      images.set(pixels, i * IMAGE_BYTES);
      labels[i] = classIndex.get(file.path.slice(0, file.path.indexOf('/')))!;
      onProgress?.(++done, wanted.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, wanted.length)) }, worker));
  return { name: folder, images, labels, classNames, size: wanted.length, warnings };
}

/** The first few items of a list, and how many more. */
function listSome(items: readonly string[], shown = 5): string {
  return items.length <= shown ? items.join(', ') : `${items.slice(0, shown).join(', ')} and ${formatCount(items.length - shown)} more`;
}

/** Natural order ("img2" before "img10"), the same on every platform. */
function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
