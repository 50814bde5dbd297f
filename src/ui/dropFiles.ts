import { DatasetError } from '../data/errors';
import type { DataFile, DataSelection } from '../worker/types';

/**
 * What the user picked or dropped, as files with their relative paths: the Worker cannot read a
 * File's `webkitRelativePath` (postMessage drops it), and dropped folders have no File at all,
 * only entries to walk.
 */

/** Files from `<input type="file">`; a folder picker (`webkitdirectory`) gives `photos/cats/1.jpg`. */
export function filesFromInput(list: FileList | null): DataFile[] {
  return Array.from(list ?? [], (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/**
 * Files and folders dropped on the page, with every folder met on the way (empty ones too, which
 * only a drop lists: the data loader reports a class folder without images, as the headless
 * trainer does). The entries must be taken before the drop event returns (the DataTransfer is
 * emptied after it), so this collects them synchronously and walks them after.
 */
export function filesFromDrop(transfer: DataTransfer): Promise<DataSelection> {
  const entries = Array.from(transfer.items)
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  const plain = Array.from(transfer.files);
  if (entries.length === 0 || entries.some((e) => e === null)) return Promise.resolve({ files: plain.map((file) => ({ path: file.name, file })), folders: [] });
  return walkEntries(entries as FileSystemEntry[]);
}

/** The files under dropped entries and the folders among and below them, in the entries' order, paths relative to the drop. */
export async function walkEntries(entries: readonly FileSystemEntry[]): Promise<DataSelection> {
  const parts = await Promise.all(entries.map(walk));
  return { files: parts.flatMap((p) => p.files), folders: parts.flatMap((p) => p.folders) };
}

async function walk(entry: FileSystemEntry): Promise<DataSelection> {
  // fullPath is "/photos/cats/1.jpg" for a dropped folder, "/a.bin" for a dropped file.
  const path = entry.fullPath.replace(/^\/+/, '');
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)).catch((e: unknown) => {
      throw new DatasetError(path, `could not be opened (${describe(e)}): it was moved, deleted or made unreadable since the drop; check it, then drop the files again`);
    });
    return { files: [{ path, file }], folders: [] };
  }
  if (entry.isDirectory) {
    const children = await readAllEntries((entry as FileSystemDirectoryEntry).createReader()).catch((e: unknown) => {
      throw new DatasetError(path, `the browser could not list this folder (${describe(e)}): check that it is there and readable, then drop it again`);
    });
    const inside = await walkEntries(children);
    return { files: inside.files, folders: [path, ...inside.folders] };
  }
  return { files: [], folders: [] };
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** readEntries returns a folder's entries a batch at a time (100 in Chromium) until an empty batch. */
function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  const all: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) return resolve(all);
        all.push(...batch);
        next();
      }, reject);
    next();
  });
}

/** Whether a drag carries files (not text or a link dragged from the page). */
export function dragHasFiles(transfer: DataTransfer | null): boolean {
  return transfer !== null && Array.from(transfer.types).includes('Files');
}
