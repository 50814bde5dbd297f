import { expect } from 'vitest';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { DatasetError } from '../../src/data/errors';

/** The value stored at (record, channel, y, x): distinct per channel and position, so a wrong layout shows. */
export function pixelValue(record: number, channel: number, y: number, x: number): number {
  return (record * 7 + channel * 85 + y * 3 + x) % 256;
}

/** CIFAR records as the official files lay them out: label byte(s) (one for CIFAR-10, two for CIFAR-100), then the R, G and B planes. */
export function cifarBytes(labels: number[][]): Uint8Array {
  const header = labels[0]?.length ?? 1;
  const record = header + IMAGE_BYTES;
  const out = new Uint8Array(labels.length * record);
  labels.forEach((ls, r) => {
    out.set(ls, r * record);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[r * record + header + c * 1024 + y * 32 + x] = pixelValue(r, c, y, x);
  });
  return out;
}

export function expectDatasetError(f: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected DatasetError matching ${message}`).toBeInstanceOf(DatasetError);
  expect((thrown as Error).message).toMatch(message);
}

export async function expectDatasetErrorAsync(f: () => Promise<unknown>, message: RegExp): Promise<void> {
  let thrown: unknown;
  try {
    await f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected DatasetError matching ${message}`).toBeInstanceOf(DatasetError);
  expect((thrown as Error).message).toMatch(message);
}
