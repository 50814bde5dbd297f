import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { readCifarArchive } from '../data/archive';
import { parseCifar, type Cifar100Labels } from '../data/cifar';
import type { ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { isArchive } from '../data/load';
import { datasetFromImageFiles, isIgnoredFile, type ImageFile } from '../data/imageFolder';
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

export async function loadDataPath(path: string, options: LoadOptions): Promise<ImageDataset> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(path, code === 'ENOENT' ? 'no such file or folder' : `cannot be read (${code ?? (e as Error).message})`);
  }
  if (info.isDirectory()) return readImageFolder(path);
  if (!info.isFile()) throw new DatasetError(path, 'is neither a file nor a folder');
  if (await looksLikeArchive(path)) {
    const archive = await readCifarArchive(createReadStream(path, { highWaterMark: 1 << 20 }), {
      fileName: basename(path),
      labels: options.labels,
      totalBytes: info.size,
    });
    const wanted = archive[options.split];
    if (!wanted) {
      const member = archive.format === 'cifar10' ? (options.split === 'train' ? 'data_batch_*.bin' : 'test_batch.bin') : `${options.split}.bin`;
      throw new DatasetError(basename(path), `has no ${options.split === 'train' ? 'training' : 'test'} images (no ${member} inside)`);
    }
    return wanted;
  }
  return parseCifar(new Uint8Array(await readFile(path)), { fileName: basename(path), labels: options.labels });
}

/** Reads only the first bytes, so that a large archive is then streamed rather than read whole. */
async function looksLikeArchive(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return isArchive(path, head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** A folder with one sub-folder per class, decoded with the pure-JS PNG and JPEG decoders. */
export async function readImageFolder(dir: string): Promise<ImageDataset> {
  const files: ImageFile[] = [];
  // Node 20's recursive readdir: parentPath names each entry's own folder.
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const path = relative(dir, full).split(sep).join('/');
    if (isIgnoredFile(path)) continue;
    files.push({ path, data: async () => new Uint8Array(await readFile(full)) });
  }
  return datasetFromImageFiles(files, { folder: basename(dir), decode: decodeImageBytes });
}
