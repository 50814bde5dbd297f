import { readCifarArchive, type ArchiveProgress, type CifarArchive } from './archive';
import { cifarRecordCount, guessCifarFormat, parseCifar, refuseOtherFormats, type Cifar100Labels, type CifarFormat } from './cifar';
import type { ImageDataset } from './dataset';
import { fileHead } from './fileHead';

/**
 * One entry point for a user's CIFAR file in the app (a File from a picker or a drop, in a page or
 * a Worker): an archive is streamed, a bare `.bin` is read whole. Throws DatasetError on bad input.
 */
export type LoadedCifar = ({ kind: 'archive' } & CifarArchive) | { kind: 'file'; format: CifarFormat; dataset: ImageDataset };

export interface LoadCifarOptions {
  labels?: Cifar100Labels;
  onProgress?: (progress: ArchiveProgress) => void;
}

export async function loadCifarBlob(file: Blob, fileName: string, options: LoadCifarOptions = {}): Promise<LoadedCifar> {
  const head = await fileHead(file, 262);
  if (isArchive(fileName, head)) {
    const archive = await readCifarArchive(file.stream(), { fileName, labels: options.labels, totalBytes: file.size, onProgress: options.onProgress });
    return { kind: 'archive', ...archive };
  }
  // Checked on the first bytes and the size before the whole file is read into memory.
  refuseOtherFormats(fileName, head);
  cifarRecordCount(guessCifarFormat(fileName, file.size), file.size, fileName);
  const bytes = new Uint8Array(await file.arrayBuffer());
  options.onProgress?.({ bytesRead: file.size, totalBytes: file.size });
  return { kind: 'file', format: guessCifarFormat(fileName, bytes.length), dataset: parseCifar(bytes, { fileName, labels: options.labels }) };
}

/** An archive by its name, or by its first bytes: gzip's magic number, or "ustar" at byte 257 of a tar header. */
export function isArchive(fileName: string, head: Uint8Array): boolean {
  if (/\.(tar\.gz|tgz|tar)$/i.test(fileName)) return true;
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  return head.length >= 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar';
}
