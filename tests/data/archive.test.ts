import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { describe, expect, it } from 'vitest';
import { gzipError, readCifarArchive, type ArchiveProgress, type CifarArchive } from '../../src/data/archive';
import { CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, parseCifar } from '../../src/data/cifar';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { loadCifarBlob } from '../../src/data/load';
import { TarStreamReader } from '../../src/data/tar';
import { cifarBytes, expectDatasetErrorAsync } from '../support/dataFixtures';

/** Labels for `n` CIFAR-10 records starting at `first` (round-robin, as the shared files). */
function batch(first: number, n: number): Uint8Array {
  return cifarBytes(Array.from({ length: n }, (_, i) => [(first + i) % 10]));
}

const META = 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n';
const PREFIX = 'cifar-10-batches-bin/';

/** A miniature cifar-10-binary.tar.gz, members in the official order and with its other files. */
function cifar10Tar(meta = META): Uint8Array {
  return createTar([
    { name: PREFIX },
    { name: `${PREFIX}batches.meta.txt`, data: meta },
    { name: `${PREFIX}data_batch_2.bin`, data: batch(3, 2) },
    { name: `${PREFIX}data_batch_1.bin`, data: batch(0, 3) },
    { name: `${PREFIX}readme.html`, data: '<html>not data</html>' },
    { name: `${PREFIX}test_batch.bin`, data: batch(5, 4) },
  ]);
}

/** Streams bytes in chunks of `chunk` bytes (the first one a single byte, the hardest case for format detection). */
function readInChunks(bytes: Uint8Array, chunk: number, options: { fileName: string; labels?: 'coarse' | 'fine' }, progress?: ArchiveProgress[]): Promise<CifarArchive> {
  async function* chunks() {
    yield bytes.subarray(0, 1);
    for (let i = 1; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  return readCifarArchive(chunks(), { ...options, totalBytes: bytes.length, onProgress: (p) => progress?.push(p) });
}

function expectSameDataset(a: CifarArchive, b: CifarArchive): void {
  for (const split of ['train', 'test'] as const) {
    expect(a[split]!.images).toEqual(b[split]!.images);
    expect(a[split]!.labels).toEqual(b[split]!.labels);
  }
}

describe('CIFAR archives (.tar.gz)', () => {
  it('takes the training batches in batch order and the test batch, whatever the chunking', async () => {
    const gz = gzipSync(cifar10Tar());
    const progress: ArchiveProgress[] = [];
    const archive = await readInChunks(gz, 97, { fileName: 'cifar-10-binary.tar.gz' }, progress);
    expect(archive.format).toBe('cifar10');
    expect(archive.train!.size).toBe(5);
    expect(Array.from(archive.train!.labels)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(archive.test!.labels)).toEqual([5, 6, 7, 8]);
    expect(archive.train!.name).toBe('cifar-10-binary.tar.gz (train)');
    expect(archive.train!.classNames).toEqual(CIFAR10_CLASSES);
    // data_batch_1's records come first, decoded exactly as the bare file would be.
    const batch1 = parseCifar(batch(0, 3), { fileName: 'data_batch_1.bin' });
    expect(archive.train!.images.subarray(0, 3 * IMAGE_BYTES)).toEqual(batch1.images);
    const batch2 = parseCifar(batch(3, 2), { fileName: 'data_batch_2.bin' });
    expect(archive.train!.images.subarray(3 * IMAGE_BYTES)).toEqual(batch2.images);

    expect(progress.length).toBeGreaterThan(10);
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytesRead).toBeGreaterThan(progress[i - 1].bytesRead);
    expect(progress.at(-1)).toEqual({ bytesRead: gz.length, totalBytes: gz.length });

    for (const chunk of [1, 4096, gz.length]) expectSameDataset(await readInChunks(gz, chunk, { fileName: 'a.tgz' }), archive);
    // An uncompressed tar reads the same.
    expectSameDataset(await readInChunks(cifar10Tar(), 1000, { fileName: 'cifar-10-binary.tar' }), archive);
  });

  it('uses the class names of batches.meta.txt when it has one per class', async () => {
    const renamed = META.replace('airplane', 'aeroplane');
    expect((await readInChunks(gzipSync(cifar10Tar(renamed)), 5000, { fileName: 'a.tar.gz' })).classNames[0]).toBe('aeroplane');
    expect((await readInChunks(gzipSync(cifar10Tar('just\nthree\nnames\n')), 5000, { fileName: 'a.tar.gz' })).classNames).toEqual(CIFAR10_CLASSES);
  });

  it('reads cifar-100-binary.tar.gz with coarse or fine labels', async () => {
    const records = (pairs: number[][]) => cifarBytes(pairs);
    const tar = createTar([
      { name: 'cifar-100-binary/coarse_label_names.txt', data: CIFAR100_COARSE_CLASSES.join('\n') },
      { name: 'cifar-100-binary/train.bin', data: records([[1, 30], [19, 99], [0, 4]]) },
      { name: 'cifar-100-binary/test.bin', data: records([[7, 6]]) },
    ]);
    const gz = gzipSync(tar);
    const fine = await readInChunks(gz, 3000, { fileName: 'cifar-100-binary.tar.gz' });
    expect(fine.format).toBe('cifar100');
    expect(Array.from(fine.train!.labels)).toEqual([30, 99, 4]);
    expect(fine.classNames).toHaveLength(100);
    const coarse = await readInChunks(gz, 3000, { fileName: 'cifar-100-binary.tar.gz', labels: 'coarse' });
    expect(Array.from(coarse.train!.labels)).toEqual([1, 19, 0]);
    expect(Array.from(coarse.test!.labels)).toEqual([7]);
    expect(coarse.classNames).toEqual(CIFAR100_COARSE_CLASSES);
  });

  it('reads from a web ReadableStream (a File in a Worker) and from a Node async iterable', async () => {
    const gz = gzipSync(cifar10Tar());
    const whole = await readInChunks(gz, gz.length, { fileName: 'a.tar.gz' });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < gz.length; i += 333) controller.enqueue(gz.slice(i, i + 333));
        controller.close();
      },
    });
    expectSameDataset(await readCifarArchive(stream, { fileName: 'a.tar.gz' }), whole);
    async function* chunks() {
      for (let i = 0; i < gz.length; i += 1024) yield gz.subarray(i, i + 1024);
    }
    expectSameDataset(await readCifarArchive(chunks(), { fileName: 'a.tar.gz' }), whole);
  });

  it('loads a File the way the app gets one: archives streamed, bare .bin files whole', async () => {
    const gz = gzipSync(cifar10Tar());
    const progress: ArchiveProgress[] = [];
    // No telling extension: the gzip magic number decides.
    const archive = await loadCifarBlob(new Blob([gz]), 'download', { onProgress: (p) => progress.push(p) });
    if (archive.kind !== 'archive') throw new Error('expected an archive');
    expect(archive.train!.size).toBe(5);
    expect(archive.test!.size).toBe(4);
    expect(progress.at(-1)).toEqual({ bytesRead: gz.length, totalBytes: gz.length });
    const plainTar = await loadCifarBlob(new Blob([cifar10Tar().slice()]), 'cifar.data');
    expect(plainTar.kind).toBe('archive');
    const bin = await loadCifarBlob(new Blob([cifarBytes([[2, 50]]).slice()]), 'test.bin', { labels: 'coarse' });
    if (bin.kind !== 'file') throw new Error('expected a file');
    expect(bin.format).toBe('cifar100');
    expect(Array.from(bin.dataset.labels)).toEqual([2]);
    await expectDatasetErrorAsync(() => loadCifarBlob(new Blob([new Uint8Array(100)]), 'data_batch_9.bin'), /^data_batch_9\.bin: 100 bytes is not a whole number/);
  });

  it('reads an archive written by GNU tar and gzip, long member names included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-tar-'));
    // A folder name past tar's 100-character name field, so GNU tar writes a long-name (or pax) header.
    const deep = `cifar-10-batches-bin/${'nested-folder-'.repeat(8)}`;
    mkdirSync(join(dir, deep), { recursive: true });
    writeFileSync(join(dir, deep, 'data_batch_1.bin'), batch(0, 3));
    writeFileSync(join(dir, deep, 'test_batch.bin'), batch(3, 2));
    const tgz = join(dir, 'cifar-10-binary.tar.gz');
    execFileSync('tar', ['-czf', tgz, '-C', dir, 'cifar-10-batches-bin']);
    const archive = await readInChunks(new Uint8Array(readFileSync(tgz)), 8192, { fileName: 'cifar-10-binary.tar.gz' });
    expect(Array.from(archive.train!.labels)).toEqual([0, 1, 2]);
    expect(Array.from(archive.test!.labels)).toEqual([3, 4]);
  });

  it('refuses what is not a CIFAR archive, naming the file and the problem', async () => {
    const read = (bytes: Uint8Array, name = 'cifar-10-binary.tar.gz') => () => readInChunks(bytes, 4096, { fileName: name });
    await expectDatasetErrorAsync(read(new TextEncoder().encode('hello, this is plain text and neither gzip nor tar '.repeat(20))), /^cifar-10-binary\.tar\.gz: not a tar archive/);
    await expectDatasetErrorAsync(read(gzipSync(new TextEncoder().encode('gzip, but of text '.repeat(50)))), /^cifar-10-binary\.tar\.gz: not a tar archive/);
    await expectDatasetErrorAsync(read(new Uint8Array(0)), /^cifar-10-binary\.tar\.gz: the file is empty/);
    const corrupt = gzipSync(cifar10Tar());
    corrupt.fill(0x55, 40, 200);
    await expectDatasetErrorAsync(read(corrupt), /^cifar-10-binary\.tar\.gz: (not a valid gzip file|not a tar archive|corrupt tar header)/);

    const gz = gzipSync(cifar10Tar());
    await expectDatasetErrorAsync(read(gz.subarray(0, Math.floor(gz.length / 2))), /^cifar-10-binary\.tar\.gz: the gzip stream ends early: the file is truncated/);
    await expectDatasetErrorAsync(read(gz.subarray(0, gz.length - 3)), /^cifar-10-binary\.tar\.gz: the gzip stream ends early: the file is truncated/);
    await expectDatasetErrorAsync(read(gz.subarray(0, 10)), /^cifar-10-binary\.tar\.gz: the gzip stream ends early: the file is truncated/);
    // A stored (uncompressed) gzip keeps its deflate structure when a pixel byte is changed: only the CRC can tell.
    const tar = cifar10Tar();
    const stored = gzipSync(tar, { level: 0 });
    const at = 10 + 5 + 3000; // gzip header, stored-block header, then the tar's byte 3000 (a pixel of data_batch_2)
    expect(stored[at]).toBe(tar[3000]);
    stored[at] ^= 0xff;
    await expectDatasetErrorAsync(read(stored), /^cifar-10-binary\.tar\.gz: the gzip checksum does not match: the file is damaged/);
    await expectDatasetErrorAsync(read(tar.subarray(0, 4000), 'x.tar'), /^x\.tar: the archive ends inside cifar-10-batches-bin\/data_batch_2\.bin \(1,952 of 6,146 bytes\): the file is truncated/);

    const unrelated = gzipSync(createTar([{ name: 'photos/cat.jpg', data: 'not really' }, { name: 'README', data: 'hello' }]));
    await expectDatasetErrorAsync(read(unrelated, 'photos.tar.gz'), /^photos\.tar\.gz: holds no CIFAR data: expected data_batch_1\.bin … data_batch_5\.bin and test_batch\.bin/);

    const badMember = gzipSync(createTar([{ name: `${PREFIX}data_batch_1.bin`, data: batch(0, 10) }, { name: `${PREFIX}test_batch.bin`, data: new Uint8Array(30731) }]));
    await expectDatasetErrorAsync(
      read(badMember),
      /^cifar-10-binary\.tar\.gz \(cifar-10-batches-bin\/test_batch\.bin\): 30,731 bytes is not a whole number of 3,073-byte CIFAR-10 records/,
    );
    const mixed = gzipSync(createTar([{ name: 'a/data_batch_1.bin', data: batch(0, 1) }, { name: 'b/train.bin', data: cifarBytes([[0, 0]]) }]));
    await expectDatasetErrorAsync(read(mixed), /mixes CIFAR-10 and CIFAR-100 members \(b\/train\.bin is CIFAR-100\)/);

    async function* failing() {
      yield gzipSync(cifar10Tar()).subarray(0, 10);
    }
    await expectDatasetErrorAsync(() => readCifarArchive(failing(), { fileName: 'cut.tar.gz' }), /^cut\.tar\.gz: the gzip stream ends early/);
  });

  it("names the gzip errors of browsers' DecompressionStream as Node's (Chromium's wording)", () => {
    // What Chromium's DecompressionStream rejects with for a cut and a damaged stream (checked in Chromium 156).
    expect((gzipError('a.tar.gz', new TypeError('Compressed input was truncated.')) as Error).message).toBe('a.tar.gz: the gzip stream ends early: the file is truncated');
    expect((gzipError('a.tar.gz', new TypeError('The compressed data was not valid: incorrect data check.')) as Error).message).toBe(
      'a.tar.gz: the gzip checksum does not match: the file is damaged',
    );
    // A read error of the file itself is not a gzip problem: it passes through for the caller to name.
    const unreadable = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', syscall: 'open' });
    expect(gzipError('a.tar.gz', unreadable)).toBe(unreadable);
  });

  it('hands each member to the tar reader in pieces that add up to the member', () => {
    const tar = createTar([
      { name: 'a.txt', data: 'x'.repeat(1000) },
      { name: 'empty', data: '' },
      { name: 'b.bin', data: new Uint8Array(513).fill(7) },
    ]);
    const seen = new Map<string, number>();
    const reader = new TarStreamReader('t.tar', (m) => {
      seen.set(m.path, 0);
      return (piece) => seen.set(m.path, seen.get(m.path)! + piece.length);
    });
    for (let i = 0; i < tar.length; i += 100) reader.push(tar.subarray(i, i + 100));
    reader.finish();
    expect(Object.fromEntries(seen)).toEqual({ 'a.txt': 1000, empty: 0, 'b.bin': 513 });
  });
});
