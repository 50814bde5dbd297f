import { appendFileSync, mkdtempSync, openAsBlob, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { crc32 } from 'node:zlib';
import { DatasetError } from '../../src/data/errors';
import type { DataFile } from '../../src/worker/types';

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

/** A file as the app's file pickers hand it over: its path in the picked folder and its bytes. */
export function dataFile(path: string, bytes: Uint8Array): DataFile {
  return { path, file: new Blob([bytes as Uint8Array<ArrayBuffer>]) };
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

export async function expectDatasetErrorAsync(f: () => Promise<unknown>, message: RegExp): Promise<DatasetError> {
  let thrown: unknown;
  try {
    await f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected DatasetError matching ${message}`).toBeInstanceOf(DatasetError);
  expect((thrown as Error).message).toMatch(message);
  return thrown as DatasetError;
}

/**
 * One ustar header block, written by hand so that tests can declare any size: octal when it fits
 * 11 digits, else GNU's base-256 (as GNU tar writes members of 8 GiB and more).
 */
export function tarHeader(name: string, size: number | bigint, type = '0'): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number) => h.set(new TextEncoder().encode(text), at);
  put(name, 0);
  put('0000644\0', 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  const big = BigInt(size);
  if (big < 8n ** 11n) {
    put(`${big.toString(8).padStart(11, '0')}\0`, 124);
  } else {
    let n = big;
    for (let i = 135; i > 124; i--) {
      h[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    h[124] = 0x80 | Number(n & 0x7fn);
  }
  put('00000000000\0', 136);
  put(type, 156);
  put('ustar\0', 257);
  put('00', 263);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** The header of a PNG (signature and IHDR, checksummed) declaring `width` × `height` RGB pixels, and nothing after. */
export function pngHeader(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(17);
  const view = new DataView(ihdr.buffer);
  ihdr.set(new TextEncoder().encode('IHDR'), 0);
  view.setUint32(4, width);
  view.setUint32(8, height);
  ihdr.set([8, 2, 0, 0, 0], 12);
  const out = new Uint8Array(8 + 4 + 17 + 4);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  new DataView(out.buffer).setUint32(8, 13);
  out.set(ihdr, 12);
  new DataView(out.buffer).setUint32(29, crc32(ihdr));
  return out;
}

/**
 * A file on disk as a picker hands it over (a Blob backed by the file), changed after it was picked:
 * every read then rejects with a DOMException NotReadableError, as a browser's does (Node's
 * fs.openAsBlob, like Chromium's File, checks on each read that the file is unchanged).
 */
export async function changedAfterPicking(name: string, bytes: Uint8Array): Promise<Blob> {
  const path = join(mkdtempSync(join(tmpdir(), 'moco-picked-')), name);
  writeFileSync(path, bytes);
  const blob = await openAsBlob(path);
  appendFileSync(path, 'x');
  return blob;
}

/**
 * A picked file deleted before the browser first looked up its size, as Chromium hands it over then:
 * size 0, slices that read nothing without an error, and a whole read that rejects (Node's
 * fs.openAsBlob of a file emptied, then deleted, behaves so; Chromium rejects with NotFoundError).
 */
export async function deletedBeforeItsSize(name: string): Promise<Blob> {
  const path = join(mkdtempSync(join(tmpdir(), 'moco-picked-')), name);
  writeFileSync(path, new Uint8Array(0));
  const blob = await openAsBlob(path);
  rmSync(path);
  return blob;
}

/** A picked file whose whole read waits until `released` settles, as a large file on a slow disk does. */
export class HeldFile extends Blob {
  constructor(
    bytes: Uint8Array<ArrayBuffer>,
    private readonly released: Promise<void>,
  ) {
    super([bytes]);
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    await this.released;
    return super.arrayBuffer();
  }
}
