import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES,
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  CifarRecordDecoder,
  guessCifarFormat,
  parseCifar,
} from '../../src/data/cifar';
import { classCounts, IMAGE_BYTES } from '../../src/data/dataset';
import { firstImages, samplesPerClass, summarize, thumbnailRGBA } from '../../src/data/summary';
import { cifarBytes, expectDatasetError, pixelValue } from '../support/dataFixtures';
import { SHARED } from '../support/helpers';

describe('CIFAR binary files', () => {
  it('reads CIFAR-10 records into HWC images with their labels and the ten class names', () => {
    const bytes = cifarBytes([[3], [0], [9]]);
    const ds = parseCifar(bytes, { fileName: 'dir/data_batch_1.bin' });
    expect(ds.size).toBe(3);
    expect(ds.name).toBe('data_batch_1.bin');
    expect(Array.from(ds.labels)).toEqual([3, 0, 9]);
    expect(ds.classNames).toEqual(CIFAR10_CLASSES);
    expect(ds.images.length).toBe(3 * IMAGE_BYTES);
    for (const [r, y, x] of [
      [0, 0, 0],
      [1, 5, 17],
      [2, 31, 31],
    ]) {
      for (let c = 0; c < 3; c++) expect(ds.images[r * IMAGE_BYTES + (y * 32 + x) * 3 + c]).toBe(pixelValue(r, c, y, x));
    }
  });

  it('reads CIFAR-100 records with the coarse or the fine label, as asked', () => {
    const bytes = cifarBytes([
      [4, 0],
      [19, 99],
      [0, 55],
    ]);
    const fine = parseCifar(bytes, { fileName: 'train.bin' });
    expect(Array.from(fine.labels)).toEqual([0, 99, 55]);
    expect(fine.classNames).toEqual(CIFAR100_FINE_CLASSES);
    expect(fine.classNames[99]).toBe('worm');
    const coarse = parseCifar(bytes, { fileName: 'train.bin', labels: 'coarse' });
    expect(Array.from(coarse.labels)).toEqual([4, 19, 0]);
    expect(coarse.classNames).toEqual(CIFAR100_COARSE_CLASSES);
    expect(coarse.images).toEqual(fine.images);
    expect(coarse.images[IMAGE_BYTES + (2 * 32 + 3) * 3 + 1]).toBe(pixelValue(1, 1, 2, 3));
  });

  it('tells the formats apart by size, and by name when both record sizes fit', () => {
    expect(guessCifarFormat('x.bin', 3073 * 5)).toBe('cifar10');
    expect(guessCifarFormat('x.bin', 3074 * 5)).toBe('cifar100');
    expect(guessCifarFormat('train.bin', 3073 * 3074)).toBe('cifar100');
    expect(guessCifarFormat('data_batch_1.bin', 3073 * 3074)).toBe('cifar10');
    expect(CIFAR100_FINE_CLASSES).toHaveLength(100);
    expect(CIFAR100_COARSE_CLASSES).toHaveLength(20);
  });

  it('reads the shared CIFAR-10 sample: round-robin labels, the official test-set mean', () => {
    const bytes = new Uint8Array(readFileSync(resolve(SHARED, 'data/cifar10/test_1k.bin')));
    const ds = parseCifar(bytes, { fileName: 'test_1k.bin' });
    expect(ds.size).toBe(1000);
    expect(classCounts(ds)).toEqual(new Array(10).fill(100));
    for (let i = 0; i < 30; i++) expect(ds.labels[i]).toBe(i % 10);
    // Channel means of the whole file: the README gives the official test set's (125.99, 123.69, 114.85);
    // swapped planes or a CHW/HWC mix-up would move them by several units.
    const sums = [0, 0, 0];
    for (let i = 0; i < ds.images.length; i++) sums[i % 3] += ds.images[i];
    const means = sums.map((s) => s / (ds.size * 1024));
    const official = [125.99, 123.69, 114.85];
    for (let c = 0; c < 3; c++) expect(Math.abs(means[c] - official[c]), `channel ${c}`).toBeLessThan(1.5);
    expect(firstImages(ds, 20).size).toBe(20);
    expect(classCounts(firstImages(ds, 20))).toEqual(new Array(10).fill(2));
  });

  it('decodes records split across chunks of any size exactly as in one piece', () => {
    const bytes = cifarBytes([[1], [2], [3], [4]]);
    const whole = parseCifar(bytes, { fileName: 'a.bin' });
    for (const chunk of [1, 1000, 3073, 5000]) {
      const decoder = new CifarRecordDecoder('cifar10', 'fine', bytes.length, 'a.bin');
      for (let i = 0; i < bytes.length; i += chunk) decoder.push(bytes.subarray(i, i + chunk));
      const { images, labels } = decoder.finish();
      expect(images).toEqual(whole.images);
      expect(labels).toEqual(whole.labels);
    }
  });

  it('refuses bad files with a message naming the file and the problem', () => {
    const ten = cifarBytes(Array.from({ length: 10 }, (_, i) => [i]));
    const plusOne = new Uint8Array(ten.length + 1);
    plusOne.set(ten);
    expectDatasetError(
      () => parseCifar(plusOne, { fileName: 'data_batch_1.bin' }),
      /^data_batch_1\.bin: 30,731 bytes is not a whole number of 3,073-byte CIFAR-10 records \(the last record is cut off after 1 bytes/,
    );
    // A record cut short: 9 whole records and part of the tenth.
    expectDatasetError(() => parseCifar(ten.subarray(0, ten.length - 100), { fileName: 'test_batch.bin' }), /^test_batch\.bin: 30,630 bytes .*cut off after 2,973 bytes/);
    // ... and says what to do about it.
    expectDatasetError(() => parseCifar(plusOne, { fileName: 'data_batch_1.bin' }), /; download it again \(https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar\.html, the binary version\)$/);
    expectDatasetError(() => parseCifar(new Uint8Array(0), { fileName: 'data_batch_2.bin' }), /^data_batch_2\.bin: the file is empty/);
    expectDatasetError(() => parseCifar(cifarBytes([[0], [12]]), { fileName: 'x.bin', format: 'cifar10' }), /^x\.bin: record 2 has label 12, but CIFAR-10 labels go from 0 to 9/);
    expectDatasetError(() => parseCifar(cifarBytes([[3, 120]]), { fileName: 'train.bin', labels: 'coarse' }), /^train\.bin: record 1 has fine label 120/);
    expectDatasetError(() => parseCifar(new Uint8Array(3074 * 2 + 5), { fileName: 'test.bin' }), /^test\.bin: 6,153 bytes is not a whole number of 3,074-byte CIFAR-100 records/);
    // A text file is caught by its size or, failing that, by its labels.
    const text = new TextEncoder().encode('airplane automobile '.repeat(3073 / 20 + 1).slice(0, 3073));
    expectDatasetError(() => parseCifar(text, { fileName: 'notes.bin' }), /^notes\.bin: record 1 has label 97/);
    const decoder = new CifarRecordDecoder('cifar10', 'fine', 3073 * 2, 'member.bin');
    decoder.push(ten.subarray(0, 3073 + 10));
    expectDatasetError(() => decoder.finish(), /^member\.bin: ends after 3,083 of 6,146 bytes \(record 2 of 2 is cut off\)/);
  });
});

describe('dataset summary and thumbnails', () => {
  const ds = parseCifar(cifarBytes([[2], [0], [2], [1], [2]]), { fileName: 'a.bin' });

  it('counts images per class and picks gallery samples class by class', () => {
    const summary = summarize(ds);
    expect(summary.counts).toEqual([1, 1, 3, 0, 0, 0, 0, 0, 0, 0]);
    expect(summary.size).toBe(5);
    expect(summary.classNames[2]).toBe('bird');
    expect(samplesPerClass(ds, 2).slice(0, 4)).toEqual([[1], [3], [0, 2], []]);
  });

  it('gives a 32×32 RGBA copy of an image, opaque', () => {
    const rgba = thumbnailRGBA(ds, 3);
    expect(rgba).toBeInstanceOf(Uint8ClampedArray);
    expect(rgba.length).toBe(32 * 32 * 4);
    for (const [y, x] of [
      [0, 0],
      [7, 30],
    ]) {
      const p = (y * 32 + x) * 4;
      expect([rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]]).toEqual([pixelValue(3, 0, y, x), pixelValue(3, 1, y, x), pixelValue(3, 2, y, x), 255]);
    }
    rgba[0] = 1;
    expect(ds.images[3 * IMAGE_BYTES]).toBe(pixelValue(3, 0, 0, 0));
    expect(() => thumbnailRGBA(ds, 5)).toThrow(RangeError);
  });
});
