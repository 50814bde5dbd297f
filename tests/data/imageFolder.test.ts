import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadDataPath } from '../../src/cli/dataFiles';
import { decodeImageInBrowser } from '../../src/data/browserImages';
import { classCounts, IMAGE_BYTES, imageAt } from '../../src/data/dataset';
import { DatasetError } from '../../src/data/errors';
import { datasetFromImageFiles, withoutTopFolder, type ImageFile } from '../../src/data/imageFolder';
import { centreSquare, thumbnailFromRGBA } from '../../src/data/resize';
import { expectDatasetErrorAsync } from '../support/dataFixtures';

type Rgba = [number, number, number, number];

function rgbaImage(width: number, height: number, colourAt: (x: number, y: number) => Rgba): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colourAt(x, y), (y * width + x) * 4);
  return data;
}

function png(width: number, height: number, colourAt: (x: number, y: number) => Rgba): Buffer {
  return PNG.sync.write({ width, height, data: Buffer.from(rgbaImage(width, height, colourAt)) } as PNG);
}

function jpg(width: number, height: number, colour: Rgba): Buffer {
  return jpeg.encode({ width, height, data: rgbaImage(width, height, () => colour) }, 95).data;
}

function folder(files: Record<string, Uint8Array | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'image-folder-'));
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  return dir;
}

/** Every pixel of image `i`, as [r, g, b] triples. */
function pixels(image: Uint8Array): number[][] {
  return Array.from({ length: 1024 }, (_, p) => [image[3 * p], image[3 * p + 1], image[3 * p + 2]]);
}

const RED: Rgba = [200, 10, 30, 255];
const GREEN: Rgba = [20, 180, 40, 255];
const BLUE: Rgba = [0, 0, 255, 255];

describe('image folders (Node: PNG and JPEG)', () => {
  it('makes one class per sub-folder, sorted, with images from deeper folders and no hidden files', async () => {
    const dir = folder({
      'dogs/b.jpg': jpg(40, 40, GREEN),
      'dogs/a.png': png(20, 30, () => RED),
      'dogs/more/c.png': png(33, 33, () => RED),
      'cats/1.png': png(50, 40, () => RED),
      'cats/2.png': png(32, 32, () => BLUE),
      'cats/10.png': png(32, 32, () => GREEN),
      'cats/.DS_Store': 'junk',
      'cats/Thumbs.db': 'junk',
      '.hidden/x.png': png(8, 8, () => RED),
    });
    const ds = await loadDataPath(dir, { labels: 'fine', split: 'train' });
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect(ds.size).toBe(6);
    expect(classCounts(ds)).toEqual([3, 3]);
    expect(Array.from(ds.labels)).toEqual([0, 0, 0, 1, 1, 1]);
    // Natural order within a class: 1, 2, 10.
    expect(pixels(imageAt(ds, 0)).every(([r, g, b]) => r === 200 && g === 10 && b === 30)).toBe(true);
    expect(pixels(imageAt(ds, 1))[0]).toEqual([0, 0, 255]);
    expect(pixels(imageAt(ds, 2))[0]).toEqual([20, 180, 40]);
    // dogs: a.png, b.jpg, more/c.png. JPEG is lossy: near the colour.
    for (const [r, g, b] of pixels(imageAt(ds, 4))) expect(Math.max(Math.abs(r - 20), Math.abs(g - 180), Math.abs(b - 40))).toBeLessThanOrEqual(4);
  });

  it('keeps the centre square of a non-square picture and shows transparency over white', () => {
    // 64×32: blue bands of 16 columns on each side of a green 32×32 centre.
    const wide = rgbaImage(64, 32, (x) => (x < 16 || x >= 48 ? BLUE : GREEN));
    expect(centreSquare(64, 32)).toEqual({ x: 16, y: 0, side: 32 });
    expect(pixels(thumbnailFromRGBA(wide, 64, 32)).every(([r, g, b]) => r === 20 && g === 180 && b === 40)).toBe(true);
    // 30×90: a tall picture keeps rows 30..59, red there and blue elsewhere.
    const tall = rgbaImage(30, 90, (_, y) => (y >= 30 && y < 60 ? RED : BLUE));
    expect(pixels(thumbnailFromRGBA(tall, 30, 90)).every(([r, g, b]) => r === 200 && g === 10 && b === 30)).toBe(true);
    const clear = rgbaImage(10, 10, () => [0, 0, 0, 0]);
    expect(pixels(thumbnailFromRGBA(clear, 10, 10)).every((p) => p.join() === '255,255,255')).toBe(true);
    const halfBlack = rgbaImage(100, 100, () => [0, 0, 0, 128]);
    expect(pixels(thumbnailFromRGBA(halfBlack, 100, 100))[500]).toEqual([127, 127, 127]);
  });

  it('averages when shrinking (no aliasing) and keeps left on the left', () => {
    // A 1-pixel checkerboard averages to mid-grey; point sampling would give black or white.
    const checker = rgbaImage(320, 320, (x, y) => ((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    for (const [r] of pixels(thumbnailFromRGBA(checker, 320, 320))) expect(Math.abs(r - 127.5)).toBeLessThanOrEqual(1);
    const halves = rgbaImage(96, 96, (x) => (x < 48 ? RED : BLUE));
    const out = thumbnailFromRGBA(halves, 96, 96);
    expect(pixels(out)[5 * 32 + 2]).toEqual([200, 10, 30]);
    expect(pixels(out)[5 * 32 + 29]).toEqual([0, 0, 255]);
    expect(out.length).toBe(IMAGE_BYTES);
  });

  it('refuses bad folders and files that are not images, naming them', async () => {
    const load = (dir: string) => () => loadDataPath(dir, { labels: 'fine', split: 'train' });
    const empty = folder({});
    await expectDatasetErrorAsync(load(empty), /: has no images: put each class's images in a sub-folder named after the class/);
    await expectDatasetErrorAsync(load(folder({ 'cats/.DS_Store': 'x' })), /: has no images/);
    await expectDatasetErrorAsync(load(folder({ 'cats/1.png': png(4, 4, () => RED), 'loose.png': png(4, 4, () => RED) })), /\/loose\.png: is not in a class sub-folder/);
    // A file that is no image: named by the folder's path as given, with what to do about it.
    const withNotes = folder({ 'cats/1.png': png(4, 4, () => RED), 'cats/notes.txt': 'hello' });
    const notes = await expectDatasetErrorAsync(load(withNotes), /: not an image: move it out of the folder, which should hold only images \(the headless trainer reads PNG and JPEG files\)$/);
    expect(notes.file).toBe(`${withNotes}/cats/notes.txt`);
    const withGif = folder({ 'cats/anim.gif': 'GIF89a\x01\x00\x01\x00' });
    expect((await expectDatasetErrorAsync(load(withGif), /: GIF images are read only in the browser app/)).file).toBe(`${withGif}/cats/anim.gif`);
    const broken = folder({ 'cats/broken.png': png(8, 8, () => RED).subarray(0, 40) });
    expect((await expectDatasetErrorAsync(load(broken), /: not a readable PNG image \(/)).file).toBe(`${broken}/cats/broken.png`);
    await expectDatasetErrorAsync(load(join(empty, 'nope')), /nope: no such file or folder$/);
  });

  it('decodes with the given decoder, reports progress, and stops at the first bad file', async () => {
    const files: ImageFile[] = ['b/2', 'a/1', 'b/1', 'a/3'].map((path) => ({ path, data: new TextEncoder().encode(path) }));
    const seen: number[] = [];
    const ds = await datasetFromImageFiles(files, {
      folder: 'f',
      decode: async (file) => new Uint8Array(IMAGE_BYTES).fill(file.path.charCodeAt(2)),
      onProgress: (done, total) => seen.push(done / total),
      concurrency: 3,
    });
    expect(ds.classNames).toEqual(['a', 'b']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1]);
    expect([0, 1, 2, 3].map((i) => String.fromCharCode(imageAt(ds, i)[0]))).toEqual(['1', '3', '1', '2']);
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
    let decoded = 0;
    const many: ImageFile[] = Array.from({ length: 40 }, (_, i) => ({ path: `c/${i}`, data: new Uint8Array(1) }));
    await expectDatasetErrorAsync(
      () =>
        datasetFromImageFiles(many, {
          folder: 'f',
          concurrency: 2,
          decode: async (file) => {
            decoded++;
            if (file.path === 'c/3') throw new DatasetError(file.path, 'not an image');
            return new Uint8Array(IMAGE_BYTES);
          },
        }),
      /^c\/3: not an image$/,
    );
    expect(decoded).toBeLessThan(10);
    expect(withoutTopFolder('photos/cats/1.jpg')).toBe('cats/1.jpg');
  });
});

describe('image decoding in the browser (createImageBitmap + OffscreenCanvas)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('draws the centre square at 32×32 over white and returns RGB', async () => {
    const calls: unknown[][] = [];
    const close = vi.fn();
    vi.stubGlobal('createImageBitmap', vi.fn(async () => ({ width: 300, height: 200, close })));
    vi.stubGlobal(
      'OffscreenCanvas',
      class {
        constructor(...size: number[]) {
          calls.push(['canvas', ...size]);
        }
        getContext() {
          return {
            set fillStyle(v: string) {
              calls.push(['fillStyle', v]);
            },
            fillRect: (...a: number[]) => calls.push(['fillRect', ...a]),
            drawImage: (...a: unknown[]) => calls.push(['drawImage', ...a.slice(1)]),
            getImageData: () => ({ data: new Uint8ClampedArray(32 * 32 * 4).map((_, i) => (i % 4 === 3 ? 255 : i % 251)) }),
            imageSmoothingEnabled: false,
            imageSmoothingQuality: 'low',
          };
        }
      },
    );
    const rgb = await decodeImageInBrowser({ path: 'cats/1.jpg', data: new Blob([new Uint8Array([1, 2, 3])]) });
    expect(calls).toEqual([
      ['canvas', 32, 32],
      ['fillStyle', '#ffffff'],
      ['fillRect', 0, 0, 32, 32],
      ['drawImage', 50, 0, 200, 200, 0, 0, 32, 32],
    ]);
    expect(Array.from(rgb.subarray(0, 6))).toEqual([0, 1, 2, 4, 5, 6]);
    expect(rgb.length).toBe(IMAGE_BYTES);
    expect(close).toHaveBeenCalledOnce();
  });

  it('names the file the browser cannot decode', async () => {
    vi.stubGlobal('createImageBitmap', vi.fn(async () => Promise.reject(new DOMException('bad', 'InvalidStateError'))));
    await expectDatasetErrorAsync(() => decodeImageInBrowser({ path: 'cats/notes.txt', data: new Uint8Array([104, 105]) }), /^cats\/notes\.txt: not an image this browser can decode: move it out of the folder, which should hold only images \(the app reads what the browser shows: JPEG, PNG, GIF, WebP, …\)$/);
  });
});
