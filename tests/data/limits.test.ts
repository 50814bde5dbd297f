/**
 * Sizes read from a file are checked before anything is allocated: each crafted file below would
 * otherwise end in "RangeError: Invalid typed array length" or gigabytes of memory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadDataPath } from '../../src/cli/dataFiles';
import { decodeImageBytes } from '../../src/cli/decodeImage';
import { CifarArchiveReader } from '../../src/data/archive';
import { decodeImageInBrowser } from '../../src/data/browserImages';
import { cifarRecordCount, parseCifar } from '../../src/data/cifar';
import { imageDimensions } from '../../src/data/imageHeader';
import { MAX_DATASET_IMAGES } from '../../src/data/limits';
import { loadCifarBlob } from '../../src/data/load';
import { cifarBytes, expectDatasetError, expectDatasetErrorAsync, pngHeader, tarHeader } from '../support/dataFixtures';

/** An uncompressed tar read through the archive reader: the header alone, then the end. */
function readTar(...blocks: Uint8Array[]) {
  const reader = new CifarArchiveReader({ fileName: 'evil.tar' });
  for (const b of blocks) reader.push(b);
  return reader.finish();
}

describe('sizes in tar headers', () => {
  it('refuses a data_batch_1.bin claiming 6 GB before allocating, naming the archive and the member', () => {
    expectDatasetError(() => readTar(tarHeader('cifar-10-batches-bin/data_batch_1.bin', 6_000_000_000)), /^evil\.tar \(cifar-10-batches-bin\/data_batch_1\.bin\): is 6,000,000,000 bytes \(6\.0 GB\), 1,952,489 CIFAR-10 records: at most 500,000 images/);
  });

  it('refuses an 8 GiB member in GNU base-256 and a size past 2^53', () => {
    expectDatasetError(() => readTar(tarHeader('train.bin', 8n * 2n ** 30n)), /^evil\.tar \(train\.bin\): is 8,589,934,592 bytes .* at most 500,000 images/);
    expectDatasetError(() => readTar(tarHeader('x/readme.html', 2n ** 80n)), /^evil\.tar: corrupt tar header: a member declares .* more than any file can hold/);
  });

  it('refuses long-name and pax headers over a megabyte (they are held whole)', () => {
    expectDatasetError(() => readTar(tarHeader('././@LongLink', 2 ** 33, 'L')), /^evil\.tar: corrupt tar header: a long-name header declares 8,589,934,592 bytes \(at most 1\.0 MB is read\)/);
    expectDatasetError(() => readTar(tarHeader('pax', 5_000_000, 'x')), /^evil\.tar: corrupt tar header: a pax header declares 5,000,000 bytes/);
  });

  it('refuses a pax size record past 2^53 for the member that follows', () => {
    const record = ' size=99999999999999999999999\n';
    const pax = `${record.length + 2}${record}`;
    const data = new Uint8Array(512);
    data.set(new TextEncoder().encode(pax));
    expectDatasetError(() => readTar(tarHeader('pax', pax.length, 'x'), data, tarHeader('data_batch_1.bin', 0)), /^evil\.tar: corrupt tar header: a member declares .* more than any file can hold/);
  });

  it('counts the images of all training members together', () => {
    // Two members each under the limit, together over it: refused at the second header, before its allocation.
    const reader = new CifarArchiveReader({ fileName: 'two.tar' });
    reader.push(tarHeader('data_batch_1.bin', 3073 * 3));
    reader.push(new Uint8Array(Math.ceil((3073 * 3) / 512) * 512)); // 3 records (zeros: label 0, black) and padding
    expectDatasetError(() => reader.push(tarHeader('data_batch_2.bin', (MAX_DATASET_IMAGES - 2) * 3073)), /^two\.tar: its training members hold 500,001 images: at most 500,000/);
  });
});

describe('sizes of bare CIFAR files', () => {
  it('checks the record count from the size alone, before reading', () => {
    expect(cifarRecordCount('cifar10', 3073 * 1000, 'a.bin')).toBe(1000);
    expectDatasetError(() => cifarRecordCount('cifar10', 6e9, 'data_batch_1.bin'), /^data_batch_1\.bin: is 6,000,000,000 bytes \(6\.0 GB\).*at most 500,000 images \(1\.5 GB decoded\)/);
  });

  it('refuses a 6 GB file on disk (sparse) without reading it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'huge-')), 'data_batch_1.bin');
    execFileSync('truncate', ['-s', '6G', path]);
    const started = performance.now();
    await expectDatasetErrorAsync(() => loadDataPath(path, { labels: 'fine', split: 'train' }), /^data_batch_1\.bin: is 6,442,450,944 bytes/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a huge Blob in the app before reading it whole', async () => {
    // A File as the picker gives it, 6 GB on disk: only its size and first bytes may be read.
    const blob = new Blob([new Uint8Array(3073)]);
    const lying = Object.assign(Object.create(Blob.prototype) as Blob, {});
    Object.defineProperties(lying, {
      size: { value: 6e9 },
      slice: { value: (a: number, b: number) => blob.slice(a, b) },
      arrayBuffer: { value: () => Promise.reject(new Error('read whole')) },
    });
    await expectDatasetErrorAsync(() => loadCifarBlob(lying, 'data_batch_1.bin'), /^data_batch_1\.bin: is 6,000,000,000 bytes/);
  });

  it('says that a PNG renamed .bin looks like a PNG (and a ZIP like a ZIP)', async () => {
    const png = PNG.sync.write(Object.assign(new PNG({ width: 4, height: 4 }), { data: Buffer.alloc(64, 255) }));
    expectDatasetError(() => parseCifar(new Uint8Array(png), { fileName: 'data_batch_1.bin' }), /^data_batch_1\.bin: looks like a PNG image, not a CIFAR binary file/);
    const dir = mkdtempSync(join(tmpdir(), 'renamed-'));
    writeFileSync(join(dir, 'photo.bin'), png);
    await expectDatasetErrorAsync(() => loadDataPath(join(dir, 'photo.bin'), { labels: 'fine', split: 'train' }), /^photo\.bin: looks like a PNG image/);
    await expectDatasetErrorAsync(() => loadCifarBlob(new Blob([new Uint8Array(png)]), 'photo.bin'), /^photo\.bin: looks like a PNG image/);
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Uint8Array(3069)]);
    expectDatasetError(() => parseCifar(zip, { fileName: 'cifar.bin' }), /^cifar\.bin: looks like a ZIP archive, not a CIFAR binary file: unzip it first/);
    // Real CIFAR bytes are never taken for something else.
    expect(parseCifar(cifarBytes([[0], [9]]), { fileName: 'ok.bin' }).size).toBe(2);
  });
});

describe('image dimensions', () => {
  it('reads width and height from PNG and JPEG headers', () => {
    const png = PNG.sync.write(Object.assign(new PNG({ width: 37, height: 21 }), { data: Buffer.alloc(37 * 21 * 4, 128) }));
    expect(imageDimensions(new Uint8Array(png))).toEqual({ width: 37, height: 21 });
    const jpg = jpeg.encode({ width: 45, height: 19, data: new Uint8Array(45 * 19 * 4).fill(90) }, 90).data;
    expect(imageDimensions(new Uint8Array(jpg))).toEqual({ width: 45, height: 19 });
  });

  it('refuses a 16000×16000 PNG (256 megapixels) in Node and in the browser decoder, before decoding', async () => {
    const bomb = pngHeader(16_000, 16_000);
    const message = /^cats\/bomb\.png: is 16,000 × 16,000 pixels \(256 megapixels\); pictures up to 200 megapixels are read: scale it down first$/;
    await expectDatasetErrorAsync(() => decodeImageBytes({ path: 'cats/bomb.png', data: bomb }), message);
    // The browser path checks the header before createImageBitmap (which Node lacks: reaching it would throw a ReferenceError).
    await expectDatasetErrorAsync(() => decodeImageInBrowser({ path: 'cats/bomb.png', data: new Blob([bomb as Uint8Array<ArrayBuffer>]) }), message);
    // Under the cap, the same header goes on to the decoder (which finds no image data).
    await expectDatasetErrorAsync(() => decodeImageBytes({ path: 'cats/ok.png', data: pngHeader(10_000, 10_000) }), /^cats\/ok\.png: not a readable PNG image/);
  });

  it('refuses a JPEG declaring 20000×20000', async () => {
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(90) }, 90).data);
    const dims = imageDimensions(jpg)!;
    expect(dims).toEqual({ width: 8, height: 8 });
    // Patch the frame header's height and width (SOF0: FF C0, length, precision, height, width).
    const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    new DataView(jpg.buffer).setUint16(sof + 5, 20_000);
    new DataView(jpg.buffer).setUint16(sof + 7, 20_000);
    await expectDatasetErrorAsync(() => decodeImageBytes({ path: 'big.jpg', data: jpg }), /^big\.jpg: is 20,000 × 20,000 pixels \(400 megapixels\)/);
  });
});
