import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/data/errors';
import { filesFromDrop } from '../../src/ui/dropFiles';

/**
 * A drop's entries as Chromium hands them over: a folder lists its entries a batch at a time
 * (`readEntries` until an empty batch) and answers asynchronously; a file entry gives its File.
 * Node has no FileSystemEntry, so these are small stand-ins; the real drop is tests/e2e/data.test.ts.
 */
type Tree = { [name: string]: string | Tree };

/** `broken`: full paths of entries whose file() or readEntries() fails, as for an entry gone since the drop. */
function entry(fullPath: string, node: string | Tree, broken: ReadonlySet<string>): FileSystemEntry {
  const name = fullPath.slice(fullPath.lastIndexOf('/') + 1);
  if (typeof node === 'string') {
    const file = (ok: (f: File) => void, fail?: (e: DOMException) => void) =>
      setTimeout(() => (broken.has(fullPath) ? fail?.(new DOMException('A requested file or directory could not be found', 'NotFoundError')) : ok(new File([node], name))));
    return { isFile: true, isDirectory: false, name, fullPath, file } as unknown as FileSystemEntry;
  }
  const children = Object.entries(node).map(([child, sub]) => entry(`${fullPath}/${child}`, sub, broken));
  const createReader = () => {
    let at = 0;
    return {
      readEntries: (ok: (batch: FileSystemEntry[]) => void, fail?: (e: DOMException) => void) => {
        if (broken.has(fullPath)) return setTimeout(() => fail?.(new DOMException('The folder could not be read', 'NotReadableError')));
        const batch = children.slice(at, at + 2);
        at += batch.length;
        setTimeout(() => ok(batch));
      },
    };
  };
  return { isFile: false, isDirectory: true, name, fullPath, createReader } as unknown as FileSystemEntry;
}

/** A DataTransfer holding the top-level entries of `tree`, as a drop of those files and folders gives it. */
function dropOf(tree: Tree, broken: ReadonlySet<string> = new Set()): DataTransfer {
  const items = Object.entries(tree).map(([name, node]) => ({ kind: 'file', webkitGetAsEntry: () => entry(`/${name}`, node, broken) }));
  return { items, files: [] } as unknown as DataTransfer;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

async function contents(files: { path: string; file: Blob }[]): Promise<[string, string][]> {
  return Promise.all(files.map(async (f) => [f.path, await f.file.text()] as [string, string]));
}

describe('files and folders dropped on the page (src/ui/dropFiles.ts)', () => {
  it('walks a dropped folder: every file with its path, and every folder, the empty ones too', async () => {
    const dropped = await filesFromDrop(
      dropOf({
        photos: {
          cats: { '1.png': 'c1', '2.png': 'c2', '3.png': 'c3' },
          empty: {},
          deep: { nested: {} },
          dogs: { '1.png': 'd1' },
          'notes.txt': 'n',
        },
      }),
    );
    expect(await contents(dropped.files)).toEqual([
      ['photos/cats/1.png', 'c1'],
      ['photos/cats/2.png', 'c2'],
      ['photos/cats/3.png', 'c3'],
      ['photos/dogs/1.png', 'd1'],
      ['photos/notes.txt', 'n'],
    ]);
    expect(dropped.folders).toEqual(['photos', 'photos/cats', 'photos/empty', 'photos/deep', 'photos/deep/nested', 'photos/dogs']);
  });

  it('takes dropped class folders and loose files as they are', async () => {
    const dropped = await filesFromDrop(dropOf({ cats: { 'a.png': 'a' }, dogs: {}, 'readme.txt': 'r' }));
    expect(await contents(dropped.files)).toEqual([
      ['cats/a.png', 'a'],
      ['readme.txt', 'r'],
    ]);
    expect(dropped.folders).toEqual(['cats', 'dogs']);
  });

  it('falls back to the plain files where the browser gives no entries, with no folders', async () => {
    const file = new File(['bytes'], 'data_batch_1.bin');
    const transfer = { items: [{ kind: 'file' }], files: [file] } as unknown as DataTransfer;
    const dropped = await filesFromDrop(transfer);
    expect(dropped).toEqual({ files: [{ path: 'data_batch_1.bin', file }], folders: [] });
  });

  it('names a dropped file or folder the browser cannot open, for the page to report', async () => {
    const file = await rejection(filesFromDrop(dropOf({ photos: { cats: { '1.png': 'c1', '2.png': 'c2' } } }, new Set(['/photos/cats/2.png']))));
    expect(file).toBeInstanceOf(DatasetError);
    expect(file.message).toBe(
      'photos/cats/2.png: could not be opened (NotFoundError: A requested file or directory could not be found): ' +
        'it was moved, deleted or made unreadable since the drop; check it, then drop the files again',
    );
    const folder = await rejection(filesFromDrop(dropOf({ photos: { cats: { '1.png': 'c1' } } }, new Set(['/photos/cats']))));
    expect(folder).toBeInstanceOf(DatasetError);
    expect(folder.message).toBe(
      'photos/cats: the browser could not list this folder (NotReadableError: The folder could not be read): check that it is there and readable, then drop it again',
    );
  });
});
