import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { readImageFolder } from '../../src/cli/dataFiles';
import { decodeImageBytes } from '../../src/cli/decodeImage';
import { classCounts, IMAGE_BYTES, type ImageDataset } from '../../src/data/dataset';
import { DatasetError } from '../../src/data/errors';
import type { DataFile, LoadProgress } from '../../src/worker/types';
import { carveHeldOut, checkTrainable, describeDataset, loadUserFiles, MAX_THUMBNAILS, readingFile, throttleProgress, topFolder } from '../../src/worker/datasets';
import { changedAfterPicking, cifarBytes, dataFile, deletedBeforeItsSize } from '../support/dataFixtures';
import { rejection } from '../support/helpers';

/** A flat-coloured PNG: the red channel tells the images apart after decoding. */
function png(red: number): Uint8Array {
  const data = Buffer.alloc(8 * 8 * 4);
  for (let p = 0; p < 64; p++) data.set([red, 40, 200, 255], p * 4);
  return PNG.sync.write({ width: 8, height: 8, data } as PNG);
}

function labelled(labels: number[], classes: number): ImageDataset {
  return {
    name: 'set',
    images: Uint8Array.from({ length: labels.length * IMAGE_BYTES }, (_, i) => Math.floor(i / IMAGE_BYTES)),
    labels: Uint8Array.from(labels),
    classNames: Array.from({ length: classes }, (_, c) => `c${c}`),
    size: labels.length,
  };
}

describe('the app loading user files (src/worker/datasets.ts)', () => {
  it('reads a picked folder of images: the top folder is the dataset, sub-folders the classes, ~10% of each held out', async () => {
    // As an <input webkitdirectory> lists them: photos/<class>/<file>, in no particular order.
    const files = [
      ...Array.from({ length: 10 }, (_, i) => dataFile(`photos/dogs/${i}.png`, png(100 + i))),
      ...Array.from({ length: 20 }, (_, i) => dataFile(`photos/cats/${i}.png`, png(i))),
      dataFile('photos/.DS_Store', new Uint8Array(4)),
    ];
    const progress: LoadProgress[] = [];
    const data = await loadUserFiles(files, { labels: 'fine', decode: decodeImageBytes, onProgress: (p) => progress.push(p) });
    expect(data).toMatchObject({ name: 'photos', format: 'images', labels: null, heldOutFrom: 'carved' });
    expect(data.train.classNames).toEqual(['cats', 'dogs']);
    expect(classCounts(data.train)).toEqual([18, 9]);
    expect(classCounts(data.heldOut)).toEqual([2, 1]);
    // cats come in natural order (0, 1, …, 19): positions 5 and 15 of the class are held out.
    expect([data.heldOut.images[0], data.heldOut.images[IMAGE_BYTES], data.heldOut.images[2 * IMAGE_BYTES]]).toEqual([5, 15, 105]);
    expect(progress.at(-1)).toEqual({ file: 'photos', done: 30, total: 30, unit: 'images' });
  });

  it('reads dropped class folders as they are, and names files out of place', async () => {
    const dropped = [dataFile('cats/a.png', png(1)), dataFile('cats/b.png', png(2)), dataFile('dogs/c.png', png(3))];
    const data = await loadUserFiles(dropped, { labels: 'fine', decode: decodeImageBytes });
    expect(data.name).toBe('cats, dogs');
    expect(data.train.classNames).toEqual(['cats', 'dogs']);
    expect(data.train.size + data.heldOut.size).toBe(3);

    const stray = await rejection(loadUserFiles([dataFile('photos/notes.txt', new Uint8Array(3)), dataFile('photos/cats/a.png', png(1))], { labels: 'fine', decode: decodeImageBytes }));
    expect(stray.message).toMatch(/^photos\/notes\.txt: is not in a class sub-folder/);
    const loose = await rejection(loadUserFiles([dataFile('a.png', png(1)), dataFile('b.png', png(2))], { labels: 'fine', decode: decodeImageBytes }));
    expect(loose.message).toMatch(/^a\.png: is not in a class sub-folder/);
    const notImage = await rejection(loadUserFiles([dataFile('photos/cats/a.png', png(1)), dataFile('photos/cats/b.png', new Uint8Array([1, 2, 3]))], { labels: 'fine', decode: decodeImageBytes }));
    // Named as picked, under its folder, with what to do: as the headless trainer names it.
    expect(notImage.message).toMatch(/^photos\/cats\/b\.png: not an image: move it out of the folder, which should hold only images/);
  });

  it('reports class folders without images in a drop in the headless trainer\'s words, and none for a picker, which lists no folders', async () => {
    // On disk: photos/cats and photos/dogs with images, photos/empty (a .DS_Store only) and photos/deep/nested without.
    const dir = join(mkdtempSync(join(tmpdir(), 'moco-folders-')), 'photos');
    const images: [string, number][] = [
      ['cats/a.png', 1],
      ['cats/b.png', 2],
      ['dogs/c.png', 3],
    ];
    for (const sub of ['cats', 'dogs', 'empty', 'deep/nested']) mkdirSync(join(dir, sub), { recursive: true });
    for (const [path, red] of images) writeFileSync(join(dir, path), png(red));
    writeFileSync(join(dir, 'empty/.DS_Store'), 'x');
    const trainer = await readImageFolder(dir);
    expect(trainer.warnings).toEqual(['photos: 2 class folders without images left out: deep, empty']);

    // The same folder dropped on the app, as the drop's walk lists it (src/ui/dropFiles.ts).
    const files = [...images.map(([path, red]) => dataFile(`photos/${path}`, png(red))), dataFile('photos/empty/.DS_Store', new Uint8Array(1))];
    const folders = ['photos', 'photos/empty', 'photos/deep', 'photos/deep/nested', 'photos/cats', 'photos/dogs'];
    const dropped = await loadUserFiles(files, { labels: 'fine', decode: decodeImageBytes, folders });
    expect(dropped.warnings).toEqual(trainer.warnings);
    expect(dropped.train.classNames).toEqual(['cats', 'dogs']);

    // The class folders themselves dropped, one of them empty: the empty one is reported, none is stripped.
    const classes = await loadUserFiles(
      images.map(([path, red]) => dataFile(path, png(red))),
      { labels: 'fine', decode: decodeImageBytes, folders: ['cats', 'dogs', 'empty'] },
    );
    expect(classes.name).toBe('cats, dogs, empty');
    expect(classes.train.classNames).toEqual(['cats', 'dogs']);
    expect(classes.warnings).toEqual(['cats, dogs, empty: class folder without images left out: empty']);

    // A folder picker gives the files only: nothing to report about folders it never listed.
    const picked = await loadUserFiles(files, { labels: 'fine', decode: decodeImageBytes });
    expect(picked.warnings).toEqual([]);

    // Nothing but empty class folders: refused, by the folder's name, in the trainer's words.
    const bare = join(dir, '..', 'bare');
    for (const sub of ['cats', 'dogs']) mkdirSync(join(bare, sub), { recursive: true });
    writeFileSync(join(bare, 'cats/.DS_Store'), 'x');
    const refused = await rejection(loadUserFiles([dataFile('bare/cats/.DS_Store', new Uint8Array(1))], { labels: 'fine', folders: ['bare', 'bare/cats', 'bare/dogs'] }));
    expect(refused).toBeInstanceOf(DatasetError);
    expect(refused.message).toBe("bare: has no images: put each class's images in a sub-folder named after the class (e.g. cats/001.jpg)");
    expect((await rejection(readImageFolder(bare))).message).toBe(refused.message);

    // One class with images and an empty one: both warnings, in the trainer's order and words.
    const single = join(dir, '..', 'single');
    mkdirSync(join(single, 'cats'), { recursive: true });
    mkdirSync(join(single, 'dogs'));
    for (const [path, red] of images.slice(0, 2)) writeFileSync(join(single, path), png(red));
    const oneClass = await loadUserFiles(
      images.slice(0, 2).map(([path, red]) => dataFile(`single/${path}`, png(red))),
      { labels: 'fine', decode: decodeImageBytes, folders: ['single', 'single/cats', 'single/dogs'] },
    );
    expect(oneClass.warnings).toEqual((await readImageFolder(single)).warnings);
    expect(oneClass.warnings).toEqual([
      'single: class folder without images left out: dogs',
      'single: one class only (cats): MoCo trains without labels, but kNN and probe accuracy need two classes or more',
    ]);
  });

  it('names a file that can no longer be read and says what to do, for CIFAR files, archives and images', async () => {
    const unreadable = /: cannot be read any more: it was changed, moved or deleted, or lost its read permission, after it was picked \(check that it is there and readable, e\.g\. chmod a\+r, then pick or drop the files again\)$/;
    const load = (files: DataFile[]) => rejection(loadUserFiles(files, { labels: 'fine', decode: decodeImageBytes }));
    const cases: [DataFile[], string][] = [
      // A .bin is read whole, an archive streamed, an image read by the decoder.
      [[{ path: 'data_batch_1.bin', file: await changedAfterPicking('data_batch_1.bin', cifarBytes([[1], [2]])) }], 'data_batch_1.bin'],
      [
        [{ path: 'cifar-10-binary.tar.gz', file: await changedAfterPicking('c.tar.gz', gzipSync(createTar([{ name: 'cifar-10-batches-bin/test_batch.bin', data: cifarBytes([[1]]) }]))) }],
        'cifar-10-binary.tar.gz',
      ],
      [[dataFile('photos/cats/a.png', png(1)), { path: 'photos/cats/b.png', file: await changedAfterPicking('b.png', png(2)) }], 'photos/cats/b.png'],
      [[dataFile('cats/a.png', png(1)), { path: 'dogs/b.png', file: await changedAfterPicking('b.png', png(2)) }], 'dogs/b.png'],
      // Deleted before its size was looked up (size 0): not "the file is empty", whose fix would be another file.
      [[{ path: 'data_batch_1.bin', file: await deletedBeforeItsSize('data_batch_1.bin') }], 'data_batch_1.bin'],
      [[{ path: 'cifar-10-binary.tar.gz', file: await deletedBeforeItsSize('c.tar.gz') }], 'cifar-10-binary.tar.gz'],
    ];
    for (const [files, named] of cases) {
      const e = await load(files);
      expect(e, named).toBeInstanceOf(DatasetError);
      expect((e as DatasetError).file).toBe(named);
      expect(e.message).toMatch(unreadable);
    }

    // Chromium says NotFoundError for a file deleted since it was picked.
    const gone = new DOMException('A requested file or directory could not be found at the time an operation was processed.', 'NotFoundError');
    const deleted = await rejection(readingFile('photos/cats/a.png', () => Promise.reject(gone)));
    expect(deleted.message).toBe('photos/cats/a.png: no such file any more: it was moved or deleted after it was picked (put it back, or pick or drop the files again)');
    // Anything else is not the file's fault and passes through as it is.
    const bug = new TypeError('x is undefined');
    expect(await rejection(readingFile('photos/cats/a.png', () => Promise.reject(bug)))).toBe(bug);
  });

  it('takes CIFAR files from an extracted cifar-10-batches-bin folder, test_batch.bin held out, other files ignored', async () => {
    const files = [
      dataFile('cifar-10-batches-bin/data_batch_2.bin', cifarBytes([[7], [8]])),
      dataFile('cifar-10-batches-bin/batches.meta.txt', new TextEncoder().encode('airplane\n')),
      dataFile('cifar-10-batches-bin/data_batch_1.bin', cifarBytes([[1], [2], [3]])),
      dataFile('cifar-10-batches-bin/test_batch.bin', cifarBytes([[9]])),
      dataFile('cifar-10-batches-bin/readme.html', new TextEncoder().encode('<html>')),
    ];
    const data = await loadUserFiles(files, { labels: 'fine' });
    expect(data).toMatchObject({ name: 'data_batch_1.bin + 2 more', format: 'cifar10', heldOutFrom: 'test-split' });
    expect(Array.from(data.train.labels)).toEqual([1, 2, 3, 7, 8]);
    expect(Array.from(data.heldOut.labels)).toEqual([9]);
  });

  it('names a lone document or zip picked as data for what it is, and what to pick instead', async () => {
    const text = await rejection(loadUserFiles([dataFile('notes.txt', new TextEncoder().encode('hello world\n'))], { labels: 'fine' }));
    expect(text).toBeInstanceOf(DatasetError);
    expect(text.message).toBe(
      'notes.txt: a .txt file, not a dataset: pick CIFAR-10/100 .bin files or cifar-10-binary.tar.gz (Files…), or a folder with one sub-folder of images per class (Folder…)',
    );
    const zip = await rejection(loadUserFiles([dataFile('pets.zip', Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]))], { labels: 'fine' }));
    expect(zip.message).toMatch(/^pets\.zip: a zip, which the Data panel does not read: unzip it and pick the folder of class folders \(Folder…\); a saved run opens with/);
    // A renamed download with no telling extension still goes to the CIFAR reader, which names the cut-off record.
    const renamed = await rejection(loadUserFiles([dataFile('data_batch_1', new Uint8Array(3073 + 10))], { labels: 'fine' }));
    expect(renamed.message).toMatch(/^data_batch_1: 3,083 bytes is not a whole number of 3,073-byte CIFAR-10 records/);
  });

  it('trains on a lone test batch, carving its held-out share', async () => {
    const data = await loadUserFiles([dataFile('test_batch.bin', cifarBytes(Array.from({ length: 30 }, (_, i) => [i % 10])))], { labels: 'fine' });
    expect(data).toMatchObject({ name: 'test_batch.bin', heldOutFrom: 'carved' });
    expect([data.train.size, data.heldOut.size]).toEqual([20, 10]);
  });

  it('carves a balanced, disjoint held-out set; one-image classes stay in training', () => {
    const labels = [...new Array(25).fill(0), ...new Array(3).fill(1), 2, ...new Array(40).fill(3)];
    const ds = labelled(labels, 4);
    const { train, heldOut } = carveHeldOut(ds);
    expect(classCounts(heldOut)).toEqual([3, 1, 0, 4]);
    expect(classCounts(train)).toEqual([22, 2, 1, 36]);
    // Each image (its first byte is its index) lands on exactly one side.
    const ids = (d: ImageDataset) => Array.from({ length: d.size }, (_, i) => d.images[i * IMAGE_BYTES]);
    expect([...ids(train), ...ids(heldOut)].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    // Spread through the class, not its first images.
    expect(ids(heldOut).filter((i) => labels[i] === 0)).toEqual([4, 12, 20]);
  });

  it('refuses data that never fills a batch, saying how many images remain', () => {
    const ds = labelled(new Array(20).fill(0), 1);
    const carved = { name: 'few', format: 'images' as const, labels: null, heldOutFrom: 'carved' as const, ...carveHeldOut(ds) };
    expect(() => checkTrainable(carved, 32)).toThrow(/^few: leaves 18 training images once 2 are held out for evaluation, fewer than one batch of 32/);
    expect(() => checkTrainable(carved, 16)).not.toThrow();
  });

  it('bounds the thumbnails: at most 8 per class and about 320 in all', () => {
    const hundred = labelled(Array.from({ length: 1000 }, (_, i) => i % 100), 100);
    const info = describeDataset(hundred, labelled([], 100), { source: 'files', name: 'x', format: 'cifar100', labels: 'fine', heldOutFrom: 'carved' });
    expect(info.thumbnails.perClass).toBe(3);
    expect(info.thumbnails.labels.length).toBe(300);
    expect(info.thumbnails.labels.length).toBeLessThanOrEqual(MAX_THUMBNAILS);
    expect(info.thumbnails.pixels.length).toBe(300 * 4096);
    expect(info.heldOutCounts).toEqual(new Array(100).fill(0));
  });

  it('finds the dataset folder in picked and dropped paths', () => {
    const paths = (...p: string[]) => p.map((path) => dataFile(path, new Uint8Array(0)));
    expect(topFolder(paths('photos/cats/1.jpg', 'photos/dogs/2.jpg'))).toEqual({ folder: 'photos', strip: true });
    expect(topFolder(paths('cats/1.jpg', 'cats/2.jpg'))).toEqual({ folder: 'cats', strip: false });
    expect(topFolder(paths('a/1.jpg', 'b/1.jpg', 'c/1.jpg', 'd/1.jpg'))).toEqual({ folder: 'a, b, c, …', strip: false });
    expect(topFolder(paths('1.jpg', 'cats/2.jpg'))).toEqual({ folder: 'the selection', strip: false });
    // A drop lists folders too: an empty class folder beside the others is one of the dropped folders.
    expect(topFolder(paths('cats/1.jpg', 'cats/2.jpg'), ['cats', 'dogs'])).toEqual({ folder: 'cats, dogs', strip: false });
    expect(topFolder(paths('photos/cats/1.jpg'), ['photos', 'photos/cats', 'photos/dogs'])).toEqual({ folder: 'photos', strip: true });
  });

  it('throttles progress but always passes the last report', () => {
    let now = 0;
    const seen: number[] = [];
    const report = throttleProgress((p) => seen.push(p.done), 100, () => now);
    for (let done = 0; done <= 1000; done += 10) {
      report({ file: 'f', done, total: 1000, unit: 'bytes' });
      now += 7;
    }
    // 101 reports over 707 ms: one per 100 ms (every 15th, as 7 ms × 15 ≥ 100 ms), and the final one.
    expect(seen).toEqual([0, 150, 300, 450, 600, 750, 900, 1000]);
  });
});
