import { decodeImageInBrowser, decodePngInBrowser } from '../data/browserImages';
import { baseName, formatLabel, type Cifar100Labels, type CifarFormat } from '../data/cifar';
import { loadCifarSample, type SampleReader } from '../data/cifarSample';
import { classCounts, IMAGE_BYTES, singleLabelWarning, subset, type ImageDataset } from '../data/dataset';
import { DatasetError, formatCount } from '../data/errors';
import { datasetFromImageFiles, isIgnoredFile, type ImageDecoder } from '../data/imageFolder';
import { loadCifarBlob } from '../data/load';
import { thumbnailRGBA, samplesPerClass } from '../data/summary';
import { SAMPLE_FOLDER, type DataFile, type DatasetInfo, type LoadProgress } from './types';

/**
 * The app's side of loading a user's data in the Worker: a picked or dropped selection of files
 * becomes training images plus held-out images for evaluation. Nothing here touches the running
 * model; the service swaps the result in only once this has returned. Every problem is a
 * DatasetError naming the file.
 */

/** The share of each class set aside for evaluation when the files bring no test split. */
export const HELD_OUT_FRACTION = 0.1;
/** Thumbnails per class in a summary, and in all (CIFAR-100's 100 classes get 3 each). */
export const THUMBNAILS_PER_CLASS = 8;
export const MAX_THUMBNAILS = 320;
/** Progress goes to the page at most this often. */
export const PROGRESS_INTERVAL_MS = 100;

export interface UserDataset {
  /** The file or folder as the user knows it. */
  name: string;
  format: 'cifar10' | 'cifar100' | 'images';
  labels: Cifar100Labels | null;
  train: ImageDataset;
  heldOut: ImageDataset;
  heldOutFrom: 'test-split' | 'carved';
  /** What was left out or is doubtful but trains (data/imageFolder's policy): empty classes, skipped links, one class. */
  warnings?: readonly string[];
}

export interface LoadFilesOptions {
  labels: Cifar100Labels;
  onProgress?: (progress: LoadProgress) => void;
  /** The image decoder for folders (default: the browser's, createImageBitmap + OffscreenCanvas). */
  decode?: ImageDecoder;
  /** The folders listed with the files (a drop lists them, empty ones included; DataSelection): empty class folders are reported. */
  folders?: readonly string[];
}

const CIFAR_FILE = /\.(bin|tar\.gz|tgz|tar)$/i;
const ARCHIVE_FILE = /\.(tar\.gz|tgz|tar)$/i;
const IMAGE_FILE = /\.(jpe?g|png|gif|webp|bmp|avif|ico|svg)$/i;
/** CIFAR's official test members, which become the held-out set when picked beside training batches. */
const TEST_BATCH = /^(test_batch|test)\.bin$/i;

export async function loadUserFiles(files: readonly DataFile[], options: LoadFilesOptions): Promise<UserDataset> {
  const wanted = files.filter((f) => !isIgnoredFile(f.path));
  // Dropped folders with no file in them: refused as the trainer refuses such a folder, by its name.
  if (wanted.length === 0 && options.folders?.some((f) => !isIgnoredFile(f))) return loadImageFolder(wanted, options);
  if (wanted.length === 0) throw new DatasetError(files[0]?.path ?? 'the selection', 'holds no files to load');
  const cifar = wanted.filter((f) => CIFAR_FILE.test(f.path));
  const images = wanted.filter((f) => IMAGE_FILE.test(f.path));
  if (cifar.length > 0 && images.length > 0) {
    throw new DatasetError(
      `${cifar[0].path} and ${images[0].path}`,
      'a selection holds either CIFAR files or a folder of images, not both: load one kind at a time',
    );
  }
  // A lone file with another name (a renamed download) is given to the CIFAR reader, which tells an
  // archive by its first bytes; anything else that is not CIFAR is taken for a folder of pictures,
  // whose decoder names every file that is not one.
  const lone = wanted.length === 1 && !wanted[0].path.includes('/') && images.length === 0;
  if (lone) refuseOtherKinds(wanted[0].path);
  if (cifar.length > 0 || lone) return loadCifarFiles(cifar.length > 0 ? cifar : wanted, options);
  return loadImageFolder(wanted, options);
}

/** What a dataset can be, for a file that is none of it. */
const WHAT_TO_PICK = 'pick CIFAR-10/100 .bin files or cifar-10-binary.tar.gz (Files…), or a folder with one sub-folder of images per class (Folder…)';
/** Kinds of file no CIFAR download is renamed to: said as what they are, not as a cut-off CIFAR record. */
const DOCUMENT_FILE = /\.(txt|csv|tsv|json|md|html?|xml|pdf|docx?|xlsx?|pptx?|odt|ods|rtf|log|py|ipynb|js|ts)$/i;
const ZIP_FILE = /\.zip$/i;

/**
 * A lone file of a kind that holds no images: named with what to pick instead. A zip is what the
 * app's own downloads are, and what a folder of images often travels as.
 */
function refuseOtherKinds(path: string): void {
  if (ZIP_FILE.test(path)) {
    throw new DatasetError(
      path,
      `a zip, which the Data panel does not read: unzip it and pick the folder of class folders (Folder…); a saved run opens with Saved runs' Open run…, trained weights with Load weights…`,
    );
  }
  const kind = DOCUMENT_FILE.exec(path);
  if (kind) throw new DatasetError(path, `a .${kind[1].toLowerCase()} file, not a dataset: ${WHAT_TO_PICK}`);
}

/**
 * The CIFAR-10 sample shipped with the app, fetched from `url` (its folder, absolute) and decoded
 * by the browser, its 20 PNGs at once: 5,000 training images and its 1,000 test images held out.
 * A missing or damaged file is a DatasetError naming it.
 */
export async function loadSample(url: string, onProgress?: (progress: LoadProgress) => void, decodePng: SampleReader['decodePng'] = decodePngInBrowser): Promise<UserDataset> {
  let decoded = 0;
  const reader: SampleReader = {
    read: (file) => fetchSampleFile(url, file),
    decodePng: async (bytes, file) => {
      const image = await decodePng(bytes, `${SAMPLE_FOLDER}${file}`);
      // Each grid is one class of one split: 500 or 100 images (5,000 and 1,000 in all).
      decoded += file.startsWith('test-') ? 100 : 500;
      onProgress?.({ file: `${SAMPLE_FOLDER}${file}`, done: Math.min(decoded, 6000), total: 6000, unit: 'images' });
      return image;
    },
  };
  const { train, test } = await loadCifarSample(reader);
  return { name: 'CIFAR-10 sample', format: 'cifar10', labels: null, train, heldOut: test, heldOutFrom: 'test-split' };
}

async function fetchSampleFile(url: string, file: string): Promise<Uint8Array> {
  const name = `${SAMPLE_FOLDER}${file}`;
  const missing = 'the app is served without its CIFAR-10 sample: serve the folder public/cifar10-sample/ of the repository (a Vite build copies it into dist/)';
  let response: Response;
  try {
    response = await fetch(new URL(file, url));
  } catch (e) {
    throw new DatasetError(name, `could not be fetched (${e instanceof Error ? e.message : String(e)}): ${missing}`);
  }
  if (!response.ok) throw new DatasetError(name, `could not be fetched (HTTP ${response.status}): ${missing}`);
  // A single-page host answers any path with its index.html.
  if (/text\/html/i.test(response.headers.get('content-type') ?? '')) throw new DatasetError(name, `is missing (the server answered with a web page): ${missing}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadCifarFiles(files: readonly DataFile[], options: LoadFilesOptions): Promise<UserDataset> {
  const archive = files.find((f) => ARCHIVE_FILE.test(f.path)) ?? (files.length === 1 ? files[0] : undefined);
  if (archive && files.length > 1) {
    const other = files.find((f) => f !== archive)!;
    throw new DatasetError(`${baseName(archive.path)} and ${baseName(other.path)}`, 'load one CIFAR archive at a time, without other files');
  }
  const total = files.reduce((n, f) => n + f.file.size, 0);
  let before = 0;
  const parts: { file: DataFile; format: CifarFormat; train?: ImageDataset; test?: ImageDataset }[] = [];
  for (const file of sortByName(files)) {
    const name = baseName(file.path);
    const done = before;
    const loaded = await readingFile(name, () =>
      loadCifarBlob(file.file, name, {
        labels: options.labels,
        onProgress: (p) => options.onProgress?.({ file: name, done: done + p.bytesRead, total, unit: 'bytes' }),
      }),
    );
    before += file.file.size;
    if (loaded.kind === 'archive') parts.push({ file, format: loaded.format, train: loaded.train, test: loaded.test });
    else if (TEST_BATCH.test(name) && files.length > 1) parts.push({ file, format: loaded.format, test: loaded.dataset });
    else parts.push({ file, format: loaded.format, train: loaded.dataset });
    const first = parts[0];
    if (loaded.format !== first.format) {
      throw new DatasetError(name, `is ${formatLabel(loaded.format)}, but ${baseName(first.file.path)} is ${formatLabel(first.format)}: load files of one dataset`);
    }
  }
  const format = parts[0].format;
  const name = files.length === 1 ? baseName(files[0].path) : `${baseName(sortByName(files)[0].path)} + ${files.length - 1} more`;
  const trains = parts.flatMap((p) => (p.train ? [p.train] : []));
  const tests = parts.flatMap((p) => (p.test ? [p.test] : []));
  const labels = format === 'cifar100' ? options.labels : null;
  // Only test batches picked (or an archive with only its test batch): they are what there is to train on.
  const train = join(trains.length > 0 ? trains : tests, name);
  // Images of one label only train, but kNN and the probe have nothing to tell apart: said as for a folder of one class.
  const single = singleLabelWarning(train);
  const warnings = single ? [single] : [];
  if (trains.length === 0 || tests.length === 0) return { name, format, labels, ...carveHeldOut(train), heldOutFrom: 'carved', warnings };
  return { name, format, labels, train, heldOut: join(tests, `${name} (test)`), heldOutFrom: 'test-split', warnings };
}

async function loadImageFolder(files: readonly DataFile[], options: LoadFilesOptions): Promise<UserDataset> {
  const folders = (options.folders ?? []).filter((f) => !isIgnoredFile(f));
  const { folder, strip } = topFolder(files, folders);
  const loose = files.find((f) => (strip ? f.path.split('/').length < 3 : !f.path.includes('/')));
  if (loose) {
    throw new DatasetError(loose.path, 'is not in a class sub-folder: pick or drop a folder with one sub-folder of images per class (e.g. photos/cats/001.jpg)');
  }
  const inside = (path: string) => (strip ? path.slice(folder.length + 1) : path);
  const decode = options.decode ?? decodeImageInBrowser;
  const dataset = await datasetFromImageFiles(
    files.map((f) => ({ path: inside(f.path), data: f.file })),
    {
      folder,
      location: strip ? folder : undefined,
      // Named as the user picked it (photos/cats/1.jpg), where a read fails.
      decode: (image) => readingFile(strip ? `${folder}/${image.path}` : image.path, () => decode(image)),
      onProgress: (done, total) => options.onProgress?.({ file: folder, done, total, unit: 'images' }),
      // The dataset folder itself is no class folder; with it stripped, `photos/empty` is the class folder `empty`.
      folders: folders.filter((f) => !strip || f.startsWith(`${folder}/`)).map(inside),
    },
  );
  return { name: folder, format: 'images', labels: null, ...carveHeldOut(dataset), heldOutFrom: 'carved', warnings: dataset.warnings };
}

/**
 * A File is read only when loaded, maybe long after it was picked: by then it may be gone, changed
 * or no longer readable, and the browser says so with a DOMException (NotFoundError,
 * NotReadableError). That becomes a DatasetError naming the file and the fix, worded like the
 * headless trainer's for a file it cannot read; anything else passes through.
 */
export async function readingFile<T>(path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw unreadable(path, e) ?? e;
  }
}

function unreadable(path: string, e: unknown): DatasetError | null {
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'NotFoundError') {
    return new DatasetError(path, 'no such file any more: it was moved or deleted after it was picked (put it back, or pick or drop the files again)');
  }
  if (name === 'NotReadableError' || name === 'SecurityError') {
    return new DatasetError(
      path,
      'cannot be read any more: it was changed, moved or deleted, or lost its read permission, after it was picked (check that it is there and readable, e.g. chmod a+r, then pick or drop the files again)',
    );
  }
  return null;
}

/**
 * A folder picker or a dropped folder gives `photos/cats/1.jpg`: the top folder is the dataset and
 * goes (a file beside the class folders, `photos/notes.txt`, is then reported as out of place).
 * Dropping the class folders themselves gives `cats/1.jpg`, `dogs/2.jpg`: nothing to strip; the
 * folders of a drop count too (class folders `cats` and an empty `dogs` dropped: nothing to strip).
 */
export function topFolder(files: readonly DataFile[], folders: readonly string[] = []): { folder: string; strip: boolean } {
  const paths = [...files.map((f) => f.path), ...folders.map((f) => `${f}/`)];
  const tops = new Set(paths.map((path) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '')));
  const [top] = tops;
  const strip = tops.size === 1 && top !== '' && files.some((f) => f.path.split('/').length >= 3);
  if (tops.size === 1 && top !== '') return { folder: top, strip };
  if (tops.has('')) return { folder: 'the selection', strip: false };
  const names = [...tops].sort();
  return { folder: names.length > 3 ? `${names.slice(0, 3).join(', ')}, …` : names.join(', '), strip: false };
}

/**
 * Sets about HELD_OUT_FRACTION of each class aside, evenly spread through the class (so a folder
 * sorted by time or a file sorted by anything gives a representative slice), the same way every
 * time. A class of one image stays whole in training.
 */
export function carveHeldOut(ds: ImageDataset, fraction = HELD_OUT_FRACTION): { train: ImageDataset; heldOut: ImageDataset } {
  const byClass = ds.classNames.map(() => [] as number[]);
  for (let i = 0; i < ds.size; i++) byClass[ds.labels[i]].push(i);
  const held = new Uint8Array(ds.size);
  for (const members of byClass) {
    const n = members.length;
    const take = n < 2 ? 0 : Math.max(1, Math.round(n * fraction));
    for (let j = 0; j < take; j++) held[members[Math.floor(((j + 0.5) * n) / take)]] = 1;
  }
  const trainIdx: number[] = [];
  const heldIdx: number[] = [];
  for (let i = 0; i < ds.size; i++) (held[i] ? heldIdx : trainIdx).push(i);
  return { train: subset(ds, trainIdx, ds.name), heldOut: subset(ds, heldIdx, `${ds.name} (held out)`) };
}

/** Training stops short of a full batch (the sampler drops the ragged end): refuse data that never fills one. */
export function checkTrainable(data: UserDataset, batchSize: number): void {
  if (data.train.size < batchSize) {
    const held = data.heldOutFrom === 'carved' && data.heldOut.size > 0 ? ` once ${formatCount(data.heldOut.size)} are held out for evaluation` : '';
    throw new DatasetError(
      data.name,
      `leaves ${formatCount(data.train.size)} training images${held}, fewer than one batch of ${formatCount(batchSize)}: pick a smaller batch or more images`,
    );
  }
}

export function describeDataset(
  train: ImageDataset,
  heldOut: ImageDataset,
  meta: Pick<DatasetInfo, 'source' | 'name' | 'format' | 'labels' | 'heldOutFrom'> & { warnings?: readonly string[] },
): DatasetInfo {
  const perClass = Math.max(1, Math.min(THUMBNAILS_PER_CLASS, Math.floor(MAX_THUMBNAILS / Math.max(1, train.classNames.length))));
  const picked = samplesPerClass(train, perClass).flat();
  const pixels = new Uint8ClampedArray(picked.length * (IMAGE_BYTES / 3) * 4);
  const labels = new Uint8Array(picked.length);
  picked.forEach((index, k) => {
    pixels.set(thumbnailRGBA(train, index), k * (IMAGE_BYTES / 3) * 4);
    labels[k] = train.labels[index];
  });
  return {
    ...meta,
    warnings: [...(meta.warnings ?? [])],
    classNames: [...train.classNames],
    trainCounts: classCounts(train),
    heldOutCounts: classCounts(heldOut),
    trainSize: train.size,
    heldOutSize: heldOut.size,
    thumbnails: { perClass, labels, pixels },
  };
}

/**
 * Progress at most every `intervalMs` (a .tar.gz reports per 64 KiB chunk: thousands of messages
 * across the Worker boundary otherwise), and always the last one.
 */
export function throttleProgress(onProgress: (p: LoadProgress) => void, intervalMs: number, now: () => number): (p: LoadProgress) => void {
  let last = -Infinity;
  return (p) => {
    const t = now();
    if (p.done < p.total && t - last < intervalMs) return;
    last = t;
    onProgress(p);
  };
}

function join(parts: readonly ImageDataset[], name: string): ImageDataset {
  if (parts.length === 1) return { ...parts[0], name };
  const size = parts.reduce((n, p) => n + p.size, 0);
  const images = new Uint8Array(size * IMAGE_BYTES);
  const labels = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    images.set(p.images, offset * IMAGE_BYTES);
    labels.set(p.labels, offset);
    offset += p.size;
  }
  return { name, images, labels, classNames: parts[0].classNames, size };
}

/** data_batch_2 before data_batch_10, whatever order the picker listed them in. */
function sortByName(files: readonly DataFile[]): DataFile[] {
  return [...files].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}
