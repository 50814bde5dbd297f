import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { PNG } from 'pngjs';
import { readCifarArchive } from '../data/archive';
import { loadCifarSample, SAMPLE_MANIFEST } from '../data/cifarSample';
import { cifarRecordCount, guessCifarFormat, parseCifar, refuseOtherFormats, type Cifar100Labels } from '../data/cifar';
import type { ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { isArchive } from '../data/load';
import { datasetFromImageFiles, isIgnoredFile, type ImageFile, type ImageFolderDataset } from '../data/imageFolder';
import { decodeImageBytes } from './decodeImage';

/**
 * Node's side of data loading for the headless trainer: paths, files and folders become the
 * environment-neutral inputs of src/data (bytes, streams, image lists). Every failure is a
 * DatasetError naming the path.
 */

export interface LoadOptions {
  labels: Cifar100Labels;
  /** Which half of an archive to use: training batches for --data, the test batch for --eval. */
  split: 'train' | 'test';
}

/** A dataset, with what the user should know about it that did not stop the load (image folders). */
export type LoadedData = ImageDataset & { warnings?: readonly string[] };

export async function loadDataPath(path: string, options: LoadOptions): Promise<LoadedData> {
  const info = await fsCall(path, () => stat(path));
  if (info.isDirectory()) {
    const sample = await stat(join(path, SAMPLE_MANIFEST)).catch(() => undefined);
    if (sample?.isFile()) return readCifarSample(path, options.split);
    await refuseCifarFolder(path, options.split);
    return readImageFolder(path);
  }
  if (!info.isFile()) throw new DatasetError(path, 'is neither a file nor a folder (a pipe, a device or a socket cannot be read as data)');
  const head = await fsCall(path, () => readHead(path));
  if (isArchive(path, head)) {
    const archive = await fsCall(path, () =>
      readCifarArchive(createReadStream(path, { highWaterMark: 1 << 20 }), {
        fileName: basename(path),
        labels: options.labels,
        totalBytes: info.size,
      }),
    );
    const wanted = archive[options.split];
    if (!wanted) {
      const member = archive.format === 'cifar10' ? (options.split === 'train' ? 'data_batch_*.bin' : 'test_batch.bin') : `${options.split}.bin`;
      throw new DatasetError(basename(path), `has no ${options.split === 'train' ? 'training' : 'test'} images (no ${member} inside)`);
    }
    return wanted;
  }
  // The first bytes and the size are checked before the whole file is read.
  const fileName = basename(path);
  refuseOtherFormats(fileName, head);
  cifarRecordCount(guessCifarFormat(fileName, info.size), info.size, fileName);
  const bytes = await fsCall(path, () => readFile(path));
  return parseCifar(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { fileName, labels: options.labels });
}

/**
 * The unpacked CIFAR archive (`cifar-10-batches-bin/`, which python/train_ddp.py takes) is no image
 * folder: say which of its files to give, or the archive, instead of asking for class sub-folders.
 */
async function refuseCifarFolder(dir: string, split: LoadOptions['split']): Promise<void> {
  const names = await fsCall(dir, () => readdir(dir));
  const batches = names.filter((n) => /^(data_batch_\d+|test_batch|train|test)\.bin$/.test(n)).sort();
  if (batches.length === 0) return;
  const cifar100 = batches.includes('train.bin') || batches.includes('test.bin');
  const wanted = split === 'test' ? (cifar100 ? 'test.bin' : 'test_batch.bin') : cifar100 ? 'train.bin' : batches.find((n) => n.startsWith('data_batch')) ?? batches[0];
  const archive = cifar100 ? 'cifar-100-binary.tar.gz' : 'cifar-10-binary.tar.gz';
  throw new DatasetError(
    dir,
    `is a folder of CIFAR binary files (${batches.join(', ')}), not of images: give one file, e.g. ${join(dir, wanted)}, or the downloaded ${archive}, which reads all its training batches (and its test batch for --eval)`,
  );
}

/**
 * The app's CIFAR-10 sample (a folder with sample.json, e.g. public/cifar10-sample): its training or
 * test split, decoded as the browser decodes it (lossless PNG), so that a run on it is the app's run
 * on the sample (same images, same content hash: the app resumes its checkpoints).
 */
async function readCifarSample(dir: string, split: LoadOptions['split']): Promise<LoadedData> {
  const sample = await loadCifarSample({
    read: async (file) => new Uint8Array(await fsCall(join(dir, file), () => readFile(join(dir, file)))),
    decodePng: async (bytes, file) => {
      try {
        return PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (e) {
        throw new DatasetError(join(dir, file), `not a readable PNG image (${(e as Error).message}): the CIFAR-10 sample is damaged; rebuild it with scripts/make-cifar-sample.ts`);
      }
    },
  });
  return split === 'train' ? sample.train : sample.test;
}

/** Reads only the first bytes, so that a large archive is then streamed rather than read whole. */
async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Runs a file-system call, turning its errors (a missing path, no permission, …) into a
 * DatasetError naming the path, the problem and the fix; other errors pass through.
 */
export async function fsCall<T>(path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (typeof error.code !== 'string' || !error.syscall) throw e;
    throw new DatasetError(error.path ?? path, fsProblem(error));
  }
}

function fsProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: it cannot be read by this user (check its permissions, e.g. chmod a+r, or a+rx for a folder)';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'is a folder where a file was expected';
    case 'ELOOP':
      return 'has too many symbolic links in a row (a link loop?)';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many files are open: raise the limit (ulimit -n) or use fewer files';
    default:
      return `cannot be read (${e.code}: ${e.message.replace(/^[A-Z]+: /, '')})`;
  }
}

/**
 * A folder with one sub-folder per class, decoded with the pure-JS PNG and JPEG decoders. Links to
 * files are read as the files; links to folders are not followed (they can loop) and are reported,
 * as are broken links and entries that are not files (pipes, sockets).
 */
export async function readImageFolder(dir: string): Promise<ImageFolderDataset> {
  const folder = basename(dir);
  const files: ImageFile[] = [];
  const folders: string[] = [];
  const skipped: string[] = [];
  // Node 20's recursive readdir (it does not follow links): parentPath names each entry's own folder.
  for (const entry of await fsCall(dir, () => readdir(dir, { recursive: true, withFileTypes: true }))) {
    const full = join(entry.parentPath, entry.name);
    const path = relative(dir, full).split(sep).join('/');
    if (isIgnoredFile(path)) continue;
    let kind: 'file' | 'folder' | 'other' = entry.isFile() ? 'file' : entry.isDirectory() ? 'folder' : 'other';
    if (entry.isSymbolicLink()) {
      const target = await stat(full).catch(() => undefined);
      if (!target) {
        skipped.push(`${path} (a broken symbolic link)`);
        continue;
      }
      if (target.isDirectory()) {
        skipped.push(`${path} (a symbolic link to a folder: links to folders are not followed; copy the folder or link its files)`);
        continue;
      }
      kind = target.isFile() ? 'file' : 'other';
    }
    if (kind === 'folder') folders.push(path);
    else if (kind === 'other') skipped.push(`${path} (not a regular file)`);
    else files.push({ path, data: async () => new Uint8Array(await fsCall(full, () => readFile(full))) });
  }
  return datasetFromImageFiles(files, { folder, location: dir, decode: decodeImageBytes, folders, skipped });
}
