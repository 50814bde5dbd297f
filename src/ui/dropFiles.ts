import type { DataFile } from '../worker/types';

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
 * Files and folders dropped on the page. The entries must be taken before the drop event returns
 * (the DataTransfer is emptied after it), so this collects them synchronously and walks them after.
 */
export function filesFromDrop(transfer: DataTransfer): Promise<DataFile[]> {
  const entries = Array.from(transfer.items)
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  const plain = Array.from(transfer.files);
  if (entries.length === 0 || entries.some((e) => e === null)) return Promise.resolve(plain.map((file) => ({ path: file.name, file })));
  return Promise.all(entries.map((e) => walk(e!))).then((lists) => lists.flat());
}

async function walk(entry: FileSystemEntry): Promise<DataFile[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    // fullPath is "/photos/cats/1.jpg" for a dropped folder, "/a.bin" for a dropped file.
    return [{ path: entry.fullPath.replace(/^\/+/, ''), file }];
  }
  if (entry.isDirectory) {
    const children = await readAllEntries((entry as FileSystemDirectoryEntry).createReader());
    return (await Promise.all(children.map(walk))).flat();
  }
  return [];
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
