import * as tf from '@tensorflow/tfjs';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES } from '../../src/data/cifar';
import { IMAGE_BYTES, type ImageDataset } from '../../src/data/dataset';
import { isLoadSuperseded, type DataFile, type DatasetInfo, type LoadProgress, type TrainingSetup } from '../../src/worker/types';
import type { Lock } from '../../src/worker/lock';
import { TrainingService } from '../../src/worker/training';
import { BUILT_IN_HELD_OUT_SIZE } from '../../src/worker/trainingData';
import { changedAfterPicking, cifarBytes, dataFile, HeldFile, pixelValue } from '../support/dataFixtures';
import { acrossComlink } from '../support/comlink';
import { rejection, useWasmBackend } from '../support/helpers';
import { TINY_SETUP } from './setup';

const SETUP: TrainingSetup = { ...TINY_SETUP, seed: 5 };

/** The service with its held-out set in reach, as the evaluation code sees it. */
class Service extends TrainingService {
  heldOut(): ImageDataset | null {
    return this.heldOutDataset();
  }

  /** Holds the service's lock until `released` settles, as a long step or model build would. */
  holdLock(released: Promise<void>): Promise<void> {
    return (this as unknown as { lock: Lock }).lock.run(() => released);
  }
}

/** `n` CIFAR-10 records, labels round-robin from `first`. */
function cifar10(n: number, first = 0): Uint8Array<ArrayBuffer> {
  return cifarBytes(Array.from({ length: n }, (_, i) => [(first + i) % 10])) as Uint8Array<ArrayBuffer>;
}

async function waitUntil(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Everything a failed load must leave alone. */
function snapshot(service: Service, info: DatasetInfo | null) {
  return { heldOut: service.heldOut(), runId: service.status().runId, name: info?.name, trainSize: info?.trainSize };
}

describe('TrainingService.loadDataset (WebAssembly backend)', () => {
  const service = new Service();

  beforeAll(async () => {
    // WebAssembly: the app's backend without a GPU, a tenth of the JavaScript CPU backend's time.
    await useWasmBackend();
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure(SETUP);
  });

  afterAll(() => service.dispose());

  it('refuses a files setup before any files are loaded', async () => {
    const e = await rejection(service.configure({ ...SETUP, dataset: 'files' }));
    expect(e.message).toMatch(/no files are loaded/);
    expect(service.status().state).toBe('idle');
    expect((await service.datasetInfo())!.source).toBe('synthetic');
  });

  it('says how to get a held-out set when every class has a single image, so none was set aside', async () => {
    const { dataset } = await service.loadDataset({ kind: 'files', files: [dataFile('ten.bin', cifar10(10))], labels: 'fine' });
    expect(dataset).toMatchObject({ trainSize: 10, heldOutSize: 0 });
    const expected =
      'ten.bin has no held-out images to evaluate on: none is set aside from a class of a single image. Give each class two images or more (or pick a test split with the training files), then load the data again';
    expect((await rejection(service.evaluation.evaluateKnn())).message).toBe(expected);
    expect((await rejection(service.evaluation.embeddingView())).message).toBe(expected);
  });

  it('trains on a CIFAR-10 file: ~10% of each class held out, a fresh model, the summary and thumbnails', async () => {
    const before = service.status().runId;
    const progress: LoadProgress[] = [];
    const bytes = cifar10(50);
    const { dataset, model } = await service.loadDataset({ kind: 'files', files: [dataFile('mini.bin', bytes)], labels: 'fine' }, (p) => progress.push(p));
    expect(dataset).toMatchObject({ source: 'files', name: 'mini.bin', format: 'cifar10', labels: null, heldOutFrom: 'carved', trainSize: 40, heldOutSize: 10 });
    expect(dataset.classNames).toEqual(CIFAR10_CLASSES);
    expect(dataset.trainCounts).toEqual(new Array(10).fill(4));
    expect(dataset.heldOutCounts).toEqual(new Array(10).fill(1));
    expect(model).toMatchObject({ datasetName: 'mini.bin', datasetSize: 40, batchesPerEpoch: 5 });
    expect(service.status()).toMatchObject({ runId: before + 1, step: 0, state: 'idle' });
    expect(progress.at(-1)).toEqual({ file: 'mini.bin', done: bytes.length, total: bytes.length, unit: 'bytes' });

    // Class c holds records c, c+10, …, c+40; the middle one (c+20) is held out.
    const heldOut = service.heldOut()!;
    expect(heldOut.size).toBe(10);
    expect(Array.from(heldOut.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let j = 0; j < 10; j++) {
      expect(heldOut.images[j * IMAGE_BYTES]).toBe(pixelValue(20 + j, 0, 0, 0));
      expect(heldOut.images[j * IMAGE_BYTES + 3 * (5 * 32 + 7) + 2]).toBe(pixelValue(20 + j, 2, 5, 7));
    }

    // Eight thumbnails per class would be asked for; each class has four training images.
    const { thumbnails } = dataset;
    expect(thumbnails.perClass).toBe(8);
    expect(Array.from(thumbnails.labels)).toEqual(Array.from({ length: 40 }, (_, k) => Math.floor(k / 4)));
    expect(thumbnails.pixels.length).toBe(40 * 32 * 32 * 4);
    // The first thumbnail is record 0, as RGBA.
    expect(Array.from(thumbnails.pixels.subarray(0, 4))).toEqual([pixelValue(0, 0, 0, 0), pixelValue(0, 1, 0, 0), pixelValue(0, 2, 0, 0), 255]);
    // The second thumbnail of class 0 is its second training image, record 10.
    expect(thumbnails.pixels[4096]).toBe(pixelValue(10, 0, 0, 0));

    const step = await service.step();
    expect(step.step).toBe(1);
  });

  it('keeps the loaded files through reset()', async () => {
    const heldOut = service.heldOut();
    const model = await service.reset();
    expect(model).toMatchObject({ datasetName: 'mini.bin', datasetSize: 40 });
    expect(service.heldOut()).toBe(heldOut);
    expect((await service.datasetInfo())!.name).toBe('mini.bin');
  });

  it('rejects bad files with their name and leaves the dataset, held-out set and run as they were', async () => {
    await service.step();
    const info = await service.datasetInfo();
    const before = snapshot(service, info);
    const step = service.status().step;
    const tarWithoutCifar = gzipSync(createTar([{ name: 'notes/readme.txt', data: 'no data here' }]));
    const cases: [DataFile[], RegExp][] = [
      [[dataFile('broken.bin', new Uint8Array(3000))], /^broken\.bin: 3,000 bytes is not a whole number of 3,073-byte CIFAR-10 records/],
      [[dataFile('fake.tar.gz', new Uint8Array(2000).fill(7))], /^fake\.tar\.gz: /],
      [[dataFile('weird.tgz', new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]))], /^weird\.tgz: .*gzip/],
      [[dataFile('cifar-10-binary.tar.gz', tarWithoutCifar)], /^cifar-10-binary\.tar\.gz: holds no CIFAR data/],
      [[dataFile('data_batch_1.bin', cifar10(20)), dataFile('test.bin', cifarBytes([[1, 10]]))], /^test\.bin: is CIFAR-100, but data_batch_1\.bin is CIFAR-10/],
      [[dataFile('mini.bin', cifar10(20)), dataFile('cats/1.png', new Uint8Array(10))], /^mini\.bin and cats\/1\.png: a selection holds either CIFAR files or a folder of images/],
      // Five images: four for training once one is held out, fewer than a batch of 8.
      [[dataFile('five.bin', cifar10(5))], /^five\.bin: leaves 5 training images, fewer than one batch of 8/],
      [[dataFile('cifar-10-binary.tar.gz', tarWithoutCifar), dataFile('extra.bin', cifar10(10))], /load one CIFAR archive at a time/],
      // Picked, then changed on disk before it was read: named, with the way out, not a DOMException.
      [
        [{ path: 'data_batch_1.bin', file: await changedAfterPicking('data_batch_1.bin', cifar10(20)) }],
        /^data_batch_1\.bin: cannot be read any more: .*then pick or drop the files again\)$/,
      ],
    ];
    for (const [files, message] of cases) {
      const e = await rejection(service.loadDataset({ kind: 'files', files, labels: 'fine' }));
      expect(e.message).toMatch(message);
      expect(snapshot(service, await service.datasetInfo())).toEqual(before);
      expect(service.heldOut()).toBe(before.heldOut);
      expect(service.status()).toMatchObject({ step, state: 'paused', runId: before.runId });
    }
  });

  it('while training runs: a bad file changes nothing and training goes on; a good one starts a new run', async () => {
    const heldOut = service.heldOut();
    const runId = service.status().runId;
    await service.start();
    await waitUntil('a step', () => service.status().step >= 3);
    const e = await rejection(service.loadDataset({ kind: 'files', files: [dataFile('broken.bin', new Uint8Array(3000))], labels: 'fine' }));
    expect(e.message).toMatch(/^broken\.bin: /);
    expect(service.status()).toMatchObject({ state: 'running', runId });
    expect(service.heldOut()).toBe(heldOut);
    const stepAfterFailure = service.status().step;
    await waitUntil('training to go on', () => service.status().step > stepAfterFailure);

    // Training data and held-out set from an archive: its test batch is the held-out set.
    const tar = createTar([
      { name: 'cifar-10-batches-bin/data_batch_1.bin', data: cifar10(20) },
      { name: 'cifar-10-batches-bin/data_batch_2.bin', data: cifar10(10, 20) },
      { name: 'cifar-10-batches-bin/test_batch.bin', data: cifar10(7, 3) },
    ]);
    const gz = gzipSync(tar);
    const progress: LoadProgress[] = [];
    const { dataset, model } = await service.loadDataset({ kind: 'files', files: [dataFile('cifar-10-binary.tar.gz', gz)], labels: 'fine' }, (p) => progress.push(p));
    expect(dataset).toMatchObject({ name: 'cifar-10-binary.tar.gz', heldOutFrom: 'test-split', trainSize: 30, heldOutSize: 7 });
    expect(dataset.trainCounts).toEqual(new Array(10).fill(3));
    expect(dataset.heldOutCounts).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    expect(model.datasetSize).toBe(30);
    expect(service.status()).toMatchObject({ state: 'idle', step: 0, runId: runId + 1 });
    expect(Array.from(service.heldOut()!.labels)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(progress.at(-1)).toEqual({ file: 'cifar-10-binary.tar.gz', done: gz.length, total: gz.length, unit: 'bytes' });
    for (let i = 1; i < progress.length; i++) expect(progress[i].done).toBeGreaterThanOrEqual(progress[i - 1].done);
  });

  it('takes CIFAR-100 coarse labels, and test.bin picked beside train.bin as the held-out set', async () => {
    const train = cifarBytes(Array.from({ length: 40 }, (_, i) => [i % 20, (i * 7) % 100]));
    const test = cifarBytes([
      [4, 1],
      [19, 2],
    ]);
    const { dataset, model } = await service.loadDataset({ kind: 'files', files: [dataFile('test.bin', test), dataFile('train.bin', train)], labels: 'coarse' });
    expect(dataset).toMatchObject({ name: 'test.bin + 1 more', format: 'cifar100', labels: 'coarse', heldOutFrom: 'test-split', trainSize: 40, heldOutSize: 2 });
    expect(dataset.classNames).toEqual(CIFAR100_COARSE_CLASSES);
    expect(dataset.trainCounts).toEqual(new Array(20).fill(2));
    expect(model.datasetSize).toBe(40);
    expect(Array.from(service.heldOut()!.labels)).toEqual([4, 19]);
  });

  it('goes back to the built-in dataset and its generated test split', async () => {
    const { dataset, model } = await service.loadDataset({ kind: 'builtin' });
    expect(dataset).toMatchObject({ source: 'synthetic', format: 'builtin', heldOutFrom: 'generated', trainSize: 64, heldOutSize: BUILT_IN_HELD_OUT_SIZE });
    expect(model.datasetSize).toBe(64);
    expect(service.heldOut()!.size).toBe(BUILT_IN_HELD_OUT_SIZE);
    // The files are gone: a files setup needs a new load.
    expect((await rejection(service.configure({ ...SETUP, dataset: 'files' }))).message).toMatch(/no files are loaded/);
  });

  it('trains the new files with the setup asked while they were read (a batch chosen meanwhile is not lost)', async () => {
    // A model being built holds the lock (as the page's first build on a slow GPU does); a batch of
    // 4 is chosen, which waits for it; the files are picked and read meanwhile. The run on them must
    // take the batch asked before them, not the setup in force while they were read (batch 8).
    let release = () => {};
    const held = service.holdLock(new Promise<void>((r) => (release = r)));
    const batchChosen = service.configure({ ...SETUP, batchSize: 4 });
    const loading = service.loadDataset({ kind: 'files', files: [dataFile('mini.bin', cifar10(50))], labels: 'fine' });
    await new Promise((r) => setTimeout(r, 300));
    release();
    const [{ model }] = await Promise.all([loading, batchChosen, held]);
    expect(model).toMatchObject({ datasetName: 'mini.bin', datasetSize: 40, batchesPerEpoch: 10 });
    expect((await service.currentSetup())!).toMatchObject({ dataset: 'files', batchSize: 4 });
  });

  it('trains on the files chosen last when two loads overlap, even if the first finishes reading last; the first builds no run and leaves no tensor', async () => {
    const tensors = tf.memory().numTensors;
    const runId = service.status().runId;
    let release = () => {};
    const first = service.loadDataset({ kind: 'files', files: [{ path: 'first.bin', file: new HeldFile(cifar10(50), new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    const second = await service.loadDataset({ kind: 'files', files: [dataFile('second.bin', cifar10(30))], labels: 'fine' });
    expect(second.model).toMatchObject({ datasetName: 'second.bin', datasetSize: 20 });
    release();
    const [dropped] = await Promise.allSettled([first]);
    expect.soft((await service.datasetInfo())!).toMatchObject({ name: 'second.bin', trainSize: 20 });
    expect.soft(service.status()).toMatchObject({ runId: runId + 1, state: 'idle', step: 0 });
    expect(dropped).toMatchObject({ status: 'rejected', reason: { message: 'first.bin was not loaded: other data was chosen while it was read (choose first.bin again to train on it)' } });
    // Told apart from a problem with the files by its name, which the page still sees once comlink has carried it over.
    expect(isLoadSuperseded(dropped.status === 'rejected' && dropped.reason)).toBe(true);
    expect(isLoadSuperseded(acrossComlink(dropped.status === 'rejected' && dropped.reason))).toBe(true);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('trains on the files chosen first when the files chosen while they were read fail: the failure loses no read', async () => {
    const runId = service.status().runId;
    let release = () => {};
    const first = service.loadDataset({ kind: 'files', files: [{ path: 'first.bin', file: new HeldFile(cifar10(50), new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    // A cut-off CIFAR file, chosen while the first is read.
    const failed = await rejection(service.loadDataset({ kind: 'files', files: [dataFile('cut.bin', cifar10(30).slice(0, -10))], labels: 'fine' }));
    expect(failed.message).toMatch(/^cut\.bin: .* is not a whole number of 3,073-byte CIFAR-10 records/);
    release();
    const { model } = await first;
    expect(model).toMatchObject({ datasetName: 'first.bin', datasetSize: 40 });
    expect((await service.datasetInfo())!).toMatchObject({ name: 'first.bin' });
    expect(service.status()).toMatchObject({ runId: runId + 1, step: 0 });
  });

  it('Built-in dataset chosen while files are read, with the built-in data in use: the load is dropped and the run trained so far is kept, not reset', async () => {
    await service.loadDataset({ kind: 'builtin' });
    await service.step();
    await service.step();
    const tensors = tf.memory().numTensors;
    const runId = service.status().runId;
    let release = () => {};
    const reading = service.loadDataset({ kind: 'files', files: [{ path: 'unwanted.bin', file: new HeldFile(cifar10(50), new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    const back = await service.loadDataset({ kind: 'builtin' });
    expect(back.dataset).toMatchObject({ source: 'synthetic', trainSize: 64 });
    expect(back.model).toMatchObject({ datasetSize: 64 });
    expect(service.status()).toMatchObject({ runId, step: 2 });
    release();
    const [dropped] = await Promise.allSettled([reading]);
    expect(dropped.status === 'rejected' && isLoadSuperseded(dropped.reason)).toBe(true);
    expect(service.status()).toMatchObject({ runId, step: 2 });
    expect((await service.datasetInfo())!).toMatchObject({ source: 'synthetic', trainSize: 64 });
    expect((await service.step()).step).toBe(3);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('starts the new run with the sliders moved while the files were read (momentum, queue size)', async () => {
    let release = () => {};
    const loading = service.loadDataset({ kind: 'files', files: [{ path: 'slow.bin', file: new HeldFile(cifar10(50), new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    await service.setParams({ momentum: 0.9, queueSize: 64 });
    release();
    const { model } = await loading;
    expect(model.datasetName).toBe('slow.bin');
    expect((await service.currentSetup())!.params).toMatchObject({ momentum: 0.9, queueSize: 64 });
    expect(await service.step()).toMatchObject({ step: 1, momentum: 0.9, queueCapacity: 64 });
  });
});
