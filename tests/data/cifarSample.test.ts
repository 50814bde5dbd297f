import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, CIFAR10_RECORD_BYTES } from '../../src/data/cifar';
import { loadCifarSample, type SampleReader } from '../../src/data/cifarSample';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { DatasetError } from '../../src/data/errors';
import { REPO_ROOT, SHARED } from '../support/helpers';

const SAMPLE_DIR = resolve(REPO_ROOT, 'public/cifar10-sample');
const decodePng = async (bytes: Uint8Array) => PNG.sync.read(Buffer.from(bytes));
const fromDir = (dir: string, overrides: Record<string, Uint8Array> = {}): SampleReader => ({
  read: async (file) => overrides[file] ?? new Uint8Array(await readFile(join(dir, file))),
  decodePng,
});

/** The official record's planes (R, G, B) as interleaved RGB, the dataset's layout. */
function recordRgb(records: Buffer, r: number): Uint8Array {
  const out = new Uint8Array(IMAGE_BYTES);
  const base = r * CIFAR10_RECORD_BYTES + 1;
  for (let p = 0; p < 1024; p++) for (let ch = 0; ch < 3; ch++) out[3 * p + ch] = records[base + ch * 1024 + p];
  return out;
}

describe('the shipped CIFAR-10 sample', () => {
  it('holds 5,000 training and 1,000 test images, balanced, pixel-exact copies of the CIFAR records', async () => {
    const { train, test } = await loadCifarSample(fromDir(SAMPLE_DIR));
    expect(train.size).toBe(5000);
    expect(test.size).toBe(1000);
    expect(train.classNames).toEqual(CIFAR10_CLASSES);
    // Interleaved classes: any prefix of 10·m images is balanced.
    expect([...train.labels.subarray(0, 20)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(100));
    // The shared files are round-robin too: record 10·k + c is image k of class c, as in the sample.
    for (const [ds, file] of [
      [train, 'train_10k.bin'],
      [test, 'test_1k.bin'],
    ] as const) {
      const records = readFileSync(resolve(SHARED, 'data/cifar10', file));
      for (const i of [0, 1, 9, 10, 777, ds.size - 1]) {
        expect(records[i * CIFAR10_RECORD_BYTES]).toBe(ds.labels[i]);
        expect(ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES)).toEqual(recordRgb(records, i));
      }
    }
  });

  it('refuses a damaged manifest or grid with a message naming the file', async () => {
    const garbled = fromDir(SAMPLE_DIR, { 'sample.json': new TextEncoder().encode('{"format": 1, "classes": [') });
    await expect(loadCifarSample(garbled)).rejects.toThrow(DatasetError);
    await expect(loadCifarSample(garbled)).rejects.toThrow(/sample\.json.*not valid JSON/);
    const tiny = new PNG({ width: 32, height: 32 });
    const wrongSize = fromDir(SAMPLE_DIR, { 'test-cat.png': new Uint8Array(PNG.sync.write(tiny)) });
    await expect(loadCifarSample(wrongSize)).rejects.toThrow(/test-cat\.png: 32×32 pixels, but the manifest says 320×320/);
  });
});
