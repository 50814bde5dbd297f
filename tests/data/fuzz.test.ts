/**
 * Seeded random corruptions of real data — truncations, flipped bytes, oversized tar headers — fed
 * to the loaders: each one either still reads as whole CIFAR records or ends in a DatasetError that
 * names the file. Never another error (a RangeError from a huge allocation, a TypeError), never a hang.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { describe, expect, it } from 'vitest';
import { readCifarArchive } from '../../src/data/archive';
import { parseCifar } from '../../src/data/cifar';
import { DatasetError } from '../../src/data/errors';
import { Rng } from '../../src/util/random';
import { SHARED } from '../support/helpers';

const RECORD = 3073;
/** A slice of the real test set: 12 records. */
const CIFAR = new Uint8Array(readFileSync(resolve(SHARED, 'data/cifar10/test_1k.bin')).subarray(0, 12 * RECORD));
const META = 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n';
const TAR = createTar([
  { name: 'cifar-10-batches-bin/batches.meta.txt', data: META },
  { name: 'cifar-10-batches-bin/data_batch_1.bin', data: CIFAR.subarray(0, 8 * RECORD) },
  { name: 'cifar-10-batches-bin/test_batch.bin', data: CIFAR.subarray(8 * RECORD) },
]);

type Outcome = 'read' | 'refused';

/** Runs a loader on corrupted bytes: a dataset of whole records, or a DatasetError naming `file`; anything else fails the test. */
async function outcome(file: string, load: () => Promise<{ size: number; images: Uint8Array }[]>, what: string): Promise<Outcome> {
  try {
    for (const ds of await load()) expect(ds.images.length, what).toBe(ds.size * 3072);
    return 'read';
  } catch (e) {
    if (!(e instanceof DatasetError)) throw new Error(`${what}: ${(e as Error).name}: ${(e as Error).message}`);
    expect(e.message.startsWith(`${file}`), `${what}: ${e.message}`).toBe(true);
    return 'refused';
  }
}

function flip(bytes: Uint8Array, rng: Rng, count: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < count; i++) out[rng.int(out.length)] ^= 1 + rng.int(255);
  return out;
}

/** The offsets of the tar's member headers. */
function headerOffsets(tar: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    offsets.push(at);
    const size = parseInt(new TextDecoder().decode(tar.subarray(at + 124, at + 135)), 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return offsets;
}

/** A member header's size field rewritten to a random, mostly huge value (octal or GNU base-256), its checksum fixed. */
function oversize(tar: Uint8Array, rng: Rng): Uint8Array {
  const out = tar.slice();
  const offsets = headerOffsets(tar);
  const at = offsets[rng.int(offsets.length)];
  const h = out.subarray(at, at + 512);
  if (rng.bernoulli(0.5)) {
    const size = Math.floor(rng.uniform(0, 8 ** 11 - 1));
    h.set(new TextEncoder().encode(`${size.toString(8).padStart(11, '0')}\0`), 124);
  } else {
    h[124] = 0x80 | rng.int(128);
    for (let i = 125; i < 136; i++) h[i] = rng.int(256);
  }
  if (rng.bernoulli(0.2)) h[156] = 'Lx'.charCodeAt(rng.int(2)); // a long-name or pax header of that size
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  h.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return out;
}

function corrupt(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  const kind = rng.int(3);
  if (kind === 0) {
    const length = rng.int(bytes.length);
    return { bytes: bytes.subarray(0, length), how: `truncated to ${length}` };
  }
  if (kind === 1) {
    const count = 1 + rng.int(8);
    return { bytes: flip(bytes, rng, count), how: `${count} bytes flipped` };
  }
  const at = rng.int(bytes.length);
  const junk = Uint8Array.from({ length: 1 + rng.int(600) }, () => rng.int(256));
  const out = new Uint8Array(bytes.length + junk.length);
  out.set(bytes.subarray(0, at));
  out.set(junk, at);
  out.set(bytes.subarray(at), at + junk.length);
  return { bytes: out, how: `${junk.length} bytes inserted at ${at}` };
}

/** Streams bytes in random chunk sizes, as a file read would. */
async function* chunks(bytes: Uint8Array, rng: Rng): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + rng.int(20_000);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

describe('fuzzing the loaders with corrupted real data', () => {
  it('a CIFAR-10 binary file: 200 corruptions, each read or refused naming the file', async () => {
    const rng = new Rng(11);
    const tally = { read: 0, refused: 0 };
    for (let i = 0; i < 200; i++) {
      const { bytes, how } = corrupt(CIFAR, rng);
      tally[await outcome('data_batch_1.bin', async () => [parseCifar(bytes, { fileName: 'data_batch_1.bin' })], `case ${i} (${how})`)]++;
    }
    // Flipped pixels still make valid records; most truncations and insertions cannot.
    expect(tally.refused).toBeGreaterThan(80);
    expect(tally.read).toBeGreaterThan(20);
  });

  it('a cifar-10-binary.tar.gz: 200 corruptions of the gzip stream and 100 oversized tar headers', async () => {
    const gz = gzipSync(TAR);
    const rng = new Rng(12);
    const tally = { read: 0, refused: 0 };
    const name = 'cifar-10-binary.tar.gz';
    const read = (bytes: Uint8Array) => async () => {
      const archive = await readCifarArchive(chunks(bytes, rng), { fileName: name });
      return [archive.train, archive.test].filter((d) => d !== undefined);
    };
    for (let i = 0; i < 200; i++) {
      const { bytes, how } = corrupt(gz, rng);
      tally[await outcome(name, read(bytes), `gzip case ${i} (${how})`)]++;
    }
    // The gzip checksum catches every change to the compressed bytes.
    expect(tally).toEqual({ read: 0, refused: 200 });
    for (let i = 0; i < 100; i++) {
      const tar = oversize(TAR, rng);
      tally[await outcome(name, read(gzipSync(tar)), `header case ${i}`)]++;
    }
    expect(tally.refused).toBeGreaterThan(290);
  });

  it('the same tar uncompressed: 200 corruptions, headers included', async () => {
    const rng = new Rng(13);
    const name = 'cifar-10-binary.tar';
    for (let i = 0; i < 200; i++) {
      const { bytes, how } = i % 2 === 0 ? corrupt(TAR, rng) : { bytes: oversize(TAR, rng), how: 'oversized header' };
      await outcome(name, async () => {
        const archive = await readCifarArchive(chunks(bytes, rng), { fileName: name });
        return [archive.train, archive.test].filter((d) => d !== undefined);
      }, `tar case ${i} (${how})`);
    }
  });
});
