/**
 * The classroom replay reads the CIFAR-10 sample for its final model through `loadDataset`, the
 * Data panel's way in: a load of the user's still being read when it does is replaced, and says by
 * what, and how to get the user's data back (the Data panel shows it); the user's run held aside
 * meanwhile keeps its files, and leaving the replay puts both back. The sample over HTTP as the
 * Worker fetches it, pngjs standing in for the browser's PNG decoder.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeCheckpointManifest } from '../../src/train/checkpoint';
import { decodeRecording } from '../../src/train/recording';
import { TrainingService } from '../../src/worker/training';
import { isLoadSuperseded, type DataFile } from '../../src/worker/types';
import { loadFinalModel, type FinalModel } from '../../src/ui/useReplay';
import { acrossComlink } from '../support/comlink';
import { cifarBytes, HeldFile } from '../support/dataFixtures';
import { REPO_ROOT, useWasmBackend } from '../support/helpers';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

vi.mock('../../src/data/browserImages', async (original) => ({
  ...(await original<typeof import('../../src/data/browserImages')>()),
  decodePngInBrowser: async (bytes: Uint8Array) => PNG.sync.read(Buffer.from(bytes)),
}));

const SAMPLE_DIR = resolve(REPO_ROOT, 'public/cifar10-sample');

describe('the classroom replay reading the CIFAR-10 sample while the user\'s files are read (WebAssembly backend)', () => {
  let server: Server;
  let sampleUrl: string;
  const service = new TrainingService();

  beforeAll(async () => {
    server = createServer((req, res) => {
      void readFile(join(SAMPLE_DIR, (req.url ?? '/').slice(1))).then(
        (bytes) => res.writeHead(200).end(bytes),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    sampleUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    await useWasmBackend();
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure(TINY_SETUP);
  }, 60_000);

  const others: TrainingService[] = [];
  afterAll(() => {
    service.dispose();
    others.forEach((s) => s.dispose());
    server.close();
  });

  it('replaces the load, which says so, naming the replay and how to get the files back; chosen again, they load', async () => {
    const big = cifarBytes(Array.from({ length: 50 }, (_, i) => [i % 10])) as Uint8Array<ArrayBuffer>;
    let release = () => {};
    const reading = service.loadDataset({ kind: 'files', files: [{ path: 'data_batch_1.bin', file: new HeldFile(big, new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    // The replay reaches its end meanwhile, and reads the sample its final model trained on.
    const replay = await service.loadDataset({ kind: 'sample', url: sampleUrl }, undefined, { chosenBy: "the classroom replay's final model" });
    expect(replay.dataset).toMatchObject({ source: 'sample', name: 'CIFAR-10 sample', trainSize: 5000 });
    release();
    const [dropped] = await Promise.allSettled([reading]);
    const said =
      "data_batch_1.bin was not loaded: the CIFAR-10 sample replaced it, read for the classroom replay's final model while data_batch_1.bin was being read. Choose data_batch_1.bin again in the Data panel to train on it";
    expect(dropped).toMatchObject({ status: 'rejected', reason: { message: said } });
    // Still a LoadSuperseded (no problem with the file), as the page receives it.
    const received = acrossComlink(dropped.status === 'rejected' && dropped.reason);
    expect(isLoadSuperseded(received)).toBe(true);
    expect((received as Error).message).toBe(said);
    expect((await service.datasetInfo())!).toMatchObject({ source: 'sample' });
    // The way back it names: chosen again, the files are the data trained on.
    const again = await service.loadDataset({ kind: 'files', files: [{ path: 'data_batch_1.bin', file: new Blob([big]) }], labels: 'fine' });
    expect(again.dataset).toMatchObject({ source: 'files', name: 'data_batch_1.bin', trainSize: 40 });
  }, 120_000);

  it('a choice of the user\'s own that replaces a load keeps the plain words (the Data panel shows none of it)', async () => {
    let release = () => {};
    const reading = service.loadDataset({ kind: 'files', files: [{ path: 'first.bin', file: new HeldFile(cifarBytes(Array.from({ length: 50 }, (_, i) => [i % 10])) as Uint8Array<ArrayBuffer>, new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    await service.loadDataset({ kind: 'builtin' });
    release();
    await expect(reading).rejects.toThrow('first.bin was not loaded: other data was chosen while it was read (choose first.bin again to train on it)');
  }, 120_000);

  const bytes = cifarBytes(Array.from({ length: 50 }, (_, i) => [i % 10])) as Uint8Array<ArrayBuffer>;
  const files = (): DataFile[] => [{ path: 'data_batch_1.bin', file: new Blob([bytes]) }];
  /** A service as the app's, training on the user's files. */
  const onFiles = async () => {
    const s = new TrainingService();
    others.push(s);
    await s.init(() => {}, { backends: ['wasm'] });
    // As in the app: runs save themselves, and holding one aside saves it.
    s.useRunStore(new MemoryRunStore());
    await s.configure(TINY_SETUP);
    await s.loadDataset({ kind: 'files', files: files(), labels: 'fine' });
    return s;
  };

  it("a run on the user's files, held aside while the replay explores its final model on the sample, comes back with its files and trains on from step 2 as if never set aside", async () => {
    // The same run, never set aside.
    const straight = await onFiles();
    const reference = [(await straight.step()).loss, (await straight.step()).loss, (await straight.step()).loss];

    const s = await onFiles();
    const losses = [(await s.step()).loss, (await s.step()).loss];
    const theirs = (await s.datasetInfo())!;
    expect(theirs).toMatchObject({ source: 'files', name: 'data_batch_1.bin', trainSize: 40 });
    // What the replay does (useReplay): the run held aside, the sample read for the recording's final model, which is resumed and explored.
    const held = await s.holdRun();
    await s.loadDataset({ kind: 'sample', url: sampleUrl }, undefined, { chosenBy: "the classroom replay's final model" });
    const recording = decodeRecording(new Uint8Array(await readFile(resolve(REPO_ROOT, 'tests/fixtures/replay-tiny.zip'))), 'replay-tiny.zip');
    await s.resume(recording.checkpoint, 'the final model of replay-tiny.zip');
    expect(s.status().step).toBe(12);
    expect((await s.datasetInfo())!).toMatchObject({ source: 'sample', name: 'CIFAR-10 sample', trainSize: 5000 });
    await s.embed(new Float32Array(32 * 32 * 3).fill(0.5), 'query');

    // Leave the replay: the run and its files are back, without loading them again.
    await s.restoreRun(held);
    expect(s.status()).toMatchObject({ step: 2, state: 'paused', error: null });
    expect(await s.datasetInfo()).toEqual(theirs);
    const third = await s.step();
    expect(third.step).toBe(3);
    losses.push(third.loss);
    for (let i = 0; i < 3; i++) expect(Math.abs(losses[i] - reference[i])).toBeLessThan(1e-6);
    // The same images, by content: the run's checkpoint records the identity of the uninterrupted run's data.
    const identity = async (t: TrainingService) => decodeCheckpointManifest(await t.checkpoint(), 'run.zip').setup.dataset;
    expect(await identity(s)).toEqual(await identity(straight));
    expect((await identity(s)).name).toBe('data_batch_1.bin');
  }, 180_000);

  it("a load of the user's still being read when a replay opens ends first: the run it builds is the one held aside, and comes back with those files", async () => {
    const s = await onFiles();
    await s.step();
    await s.step();
    let release = () => {};
    const newer = cifarBytes(Array.from({ length: 60 }, (_, i) => [i % 10])) as Uint8Array<ArrayBuffer>;
    const reading = s.loadDataset({ kind: 'files', files: [{ path: 'newer.bin', file: new HeldFile(newer, new Promise<void>((r) => (release = r))) }], labels: 'fine' });
    // The replay opens meanwhile (useReplay's open: the run held aside), then the file's read ends.
    const holding = s.holdRun();
    release();
    const [loaded, held] = await Promise.all([reading, holding]);
    expect(loaded.dataset).toMatchObject({ source: 'files', name: 'newer.bin' });
    // The run held is the newer files' fresh run, not the run the load replaced.
    expect(held.step).toBe(0);
    await s.loadDataset({ kind: 'sample', url: sampleUrl }, undefined, { chosenBy: "the classroom replay's final model" });
    await s.restoreRun(held);
    expect((await s.datasetInfo())!).toMatchObject({ source: 'files', name: 'newer.bin', trainSize: 50 });
    expect(s.status()).toMatchObject({ step: 0, error: null });
  }, 120_000);

  it('the replay left while it still reads the sample: the run comes back after the read, which does not replace it', async () => {
    const s = await onFiles();
    await s.step();
    await s.step();
    const theirs = (await s.datasetInfo())!;
    const held = await s.holdRun();
    const reading = s.loadDataset({ kind: 'sample', url: sampleUrl }, undefined, { chosenBy: "the classroom replay's final model" });
    const [read, back] = await Promise.allSettled([reading, s.restoreRun(held)]);
    expect(read.status).toBe('fulfilled');
    expect(back).toMatchObject({ status: 'fulfilled', value: { datasetName: 'data_batch_1.bin' } });
    expect(s.status()).toMatchObject({ step: 2, state: 'paused', error: null });
    expect(await s.datasetInfo()).toEqual(theirs);
    expect((await s.step()).step).toBe(3);
  }, 120_000);

  it('the replay left just after its final model was asked for (Explore, then Leave at once): nothing is read or resumed over the run put back', async () => {
    const s = await onFiles();
    await s.step();
    await s.step();
    const theirs = (await s.datasetInfo())!;
    const held = await s.holdRun();
    const recording = decodeRecording(new Uint8Array(await readFile(resolve(REPO_ROOT, 'tests/fixtures/replay-tiny.zip'))), 'replay-tiny.zip');
    let gone = false;
    const said: FinalModel[] = [];
    // useReplay's loadFinal, then its leave in the same moment: the Worker is asked to put the run back before anything of the final model.
    const final = loadFinalModel(s, recording, sampleUrl, { left: () => gone, say: (f) => said.push(f), adopt: () => said.push({ state: 'loaded', step: -1 }) });
    gone = true;
    await s.restoreRun(held);
    await final;
    expect(s.status()).toMatchObject({ step: 2, state: 'paused', error: null });
    expect(await s.datasetInfo()).toEqual(theirs);
    // Nothing after what the click said at once.
    expect(said).toEqual([{ state: 'loading', what: 'Loading the final model into the worker…' }]);
  }, 120_000);

  it('the final model says it is loading as it is asked for, before any answer of the Worker (a second click, the end reached meanwhile, Leave: all find it loading), then reads the sample and resumes it', async () => {
    const s = await onFiles();
    await s.step();
    const held = await s.holdRun();
    const recording = decodeRecording(new Uint8Array(await readFile(resolve(REPO_ROOT, 'tests/fixtures/replay-tiny.zip'))), 'replay-tiny.zip');
    const said: FinalModel[] = [];
    let adopted: number | null = null;
    const final = loadFinalModel(s, recording, sampleUrl, { left: () => false, say: (f) => said.push(f), adopt: (model) => (adopted = model.datasetSize) });
    expect(said).toEqual([{ state: 'loading', what: 'Loading the final model into the worker…' }]);
    await final;
    expect(said.map((f) => (f.state === 'loading' ? f.what : f))).toEqual([
      'Loading the final model into the worker…',
      'Reading the CIFAR-10 sample the run trained on…',
      'Loading the final model into the worker…',
      { state: 'loaded', step: 12 },
    ]);
    expect(adopted).toBe(5000);
    expect(s.status().step).toBe(12);
    await s.restoreRun(held);
    expect(s.status()).toMatchObject({ step: 1, error: null });
  }, 120_000);
});
