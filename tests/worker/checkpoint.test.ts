import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { datasetIdentity, emptyHistory, encodeCheckpoint } from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import type { EvaluationEvent } from '../../src/worker/evaluationTypes';
import type { StatsBatch } from '../../src/worker/types';
import { configOf, TrainingService } from '../../src/worker/training';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

const N = 3;

async function service(): Promise<{ service: TrainingService; batches: StatsBatch[] }> {
  const batches: StatsBatch[] = [];
  const s = new TrainingService();
  // WebAssembly: the app's backend without a GPU, a tenth of the JavaScript CPU backend's time; what
  // is tested here does not depend on the backend.
  await s.init((b) => batches.push(b), { backends: ['wasm'] });
  return { service: s, batches };
}

async function losses(s: TrainingService, steps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await s.step()).loss);
  return out;
}

/** The Worker's save and resume, on the WebAssembly backend: a resumed run is the same run. */
describe('TrainingService checkpoint and resume', () => {
  const services: TrainingService[] = [];
  afterAll(() => services.forEach((s) => s.dispose()));

  it('N steps, a checkpoint, a fresh service resumes: N more steps give the losses of 2N in one go', async () => {
    const { service: whole } = await service();
    services.push(whole);
    await whole.configure(TINY_SETUP);
    const reference = await losses(whole, 2 * N);

    const { service: first } = await service();
    services.push(first);
    await first.configure(TINY_SETUP);
    const before = await losses(first, N);
    await first.evaluation.evaluateKnn();
    const bytes = await first.checkpoint();
    // Training goes on after a checkpoint.
    expect((await first.step()).step).toBe(N + 1);

    const { service: second, batches } = await service();
    services.push(second);
    await second.configure({ ...TINY_SETUP, seed: 11, datasetSize: 32 });
    const model = await second.resume(bytes, 'run.zip');
    expect(model.datasetSize).toBe(TINY_SETUP.datasetSize);
    expect(second.status()).toMatchObject({ step: N, state: 'paused' });
    expect(batches.at(-1)!.status.step).toBe(N);
    expect(second.evaluation.knnResults().map((r) => r.step)).toEqual([N]);
    expect(second.evaluation.knnResults()[0].perClass.reduce((n, c) => n + c.total, 0)).toBe(1000);
    expect(second.status().elapsedMs).toBeGreaterThan(0);
    // The charts go on: the saved run's points come first, with the new run id.
    const runId = second.status().runId;
    expect(batches.filter((b) => b.status.runId === runId).flatMap((b) => Array.from(b.columns.step))).toEqual([1, 2, 3]);
    const chartLoss = batches.filter((b) => b.status.runId === runId).flatMap((b) => Array.from(b.columns.loss));
    chartLoss.forEach((l, i) => expect(l).toBe(before[i]));
    const after = await losses(second, N);
    expect(second.status().step).toBe(2 * N);

    const resumed = [...before, ...after];
    for (let i = 0; i < 2 * N; i++) expect(Math.abs(resumed[i] - reference[i])).toBeLessThan(1e-6);
    // A fresh run of the resumed setup is the saved run's setup, not the one the service had before.
    expect((await second.reset()).datasetSize).toBe(TINY_SETUP.datasetSize);
  });

  it('refuses a damaged file or a run on other images, naming the file, and keeps the run in use', async () => {
    const { service: s } = await service();
    services.push(s);
    await s.configure(TINY_SETUP);
    await losses(s, 2);
    const bytes = await s.checkpoint();

    const { service: other } = await service();
    services.push(other);
    await other.configure({ ...TINY_SETUP, datasetSize: 32 });
    const kept = await losses(other, 1);
    await expect(other.resume(bytes.subarray(0, bytes.length - 100), 'half.zip')).rejects.toThrow(/^half\.zip: /);
    await expect(other.resume(new TextEncoder().encode('not a zip'), 'notes.txt')).rejects.toThrow(/notes\.txt: not a readable checkpoint/);
    expect(other.status()).toMatchObject({ step: 1, state: 'paused' });

    // The same run recorded as a run on the user's files: none are loaded, so it asks for them.
    const files = unzipSync(bytes);
    const manifest = JSON.parse(strFromU8(files['manifest.json']));
    manifest.client.app.setup.dataset = 'files';
    files['manifest.json'] = strToU8(JSON.stringify(manifest));
    await expect(other.resume(zipSync(files), 'mine.zip')).rejects.toThrow(/^mine\.zip: the run trained on Built-in shapes \(train\), which is not loaded: load .* again/);
    // Other built-in images (another seed): the content hash differs.
    manifest.client.app.setup.dataset = 'synthetic';
    manifest.client.app.setup.seed = 4;
    files['manifest.json'] = strToU8(JSON.stringify(manifest));
    await expect(other.resume(zipSync(files), 'seed.zip')).rejects.toThrow(/^seed\.zip: the run trained on other images than those loaded/);
    expect(other.status()).toMatchObject({ step: 1, state: 'paused' });
    expect(kept).toHaveLength(1);
    expect((await other.step()).step).toBe(2);
  });
});

describe('TrainingService resuming a file whose history is damaged', () => {
  it('refuses it, naming the file, before the run in use is touched (a kNN result without its per-class figures)', async () => {
    const { service: s } = await service();
    await s.configure(TINY_SETUP);
    await losses(s, 2);
    await s.evaluation.evaluateKnn();
    const files = unzipSync(await s.checkpoint());
    const manifest = JSON.parse(strFromU8(files['manifest.json']));
    expect(manifest.client.app.knn).toHaveLength(1);
    delete manifest.client.app.knn[0].perClass;
    files['manifest.json'] = strToU8(JSON.stringify(manifest));
    await losses(s, 1);
    const runId = s.status().runId;
    await expect(s.resume(zipSync(files), 'edited.zip')).rejects.toThrow(/^edited\.zip: its chart, kNN or probe history is damaged: open another copy/);
    expect(s.status()).toMatchObject({ step: 3, state: 'paused', runId });
    expect((await s.step()).step).toBe(4);
    s.dispose();
  }, 60_000);
});

describe('TrainingService automatic saves', () => {
  it('saves after each step (one save per run), reports a failed save keeping the last one, and resumes a saved run', async () => {
    const store = new MemoryRunStore();
    const { service: s, batches } = await service();
    s.useRunStore(store);
    await s.configure(TINY_SETUP);
    const waitForSave = async (step: number) => {
      for (let i = 0; i < 500 && s.status().save?.step !== step; i++) await new Promise((r) => setTimeout(r, 10));
      expect(s.status().save).toMatchObject({ step, error: null });
    };
    await losses(s, 1);
    await waitForSave(1);
    await losses(s, 1);
    await waitForSave(2);
    const [saved] = await s.savedRuns();
    expect(await s.savedRuns()).toHaveLength(1);
    expect(saved).toMatchObject({ step: 2, preset: 'tiny', dataset: 'synthetic', datasetSize: 64, lastKnn: null, params: TINY_SETUP.params, seed: TINY_SETUP.seed });
    // The page knows which saved run is the run in use.
    expect(s.status().runKey).toBe(saved.runKey);
    expect(batches.at(-1)!.status.save?.step).toBe(2);

    store.full = true;
    const third = await losses(s, 1);
    for (let i = 0; i < 500 && !s.status().save?.error; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.status().save).toMatchObject({ step: 2, error: expect.stringMatching(/storage .* is full/) });
    expect((await s.savedRuns()).map((r) => r.step)).toEqual([2]);
    s.dispose();
    store.full = false;

    const { service: fresh } = await service();
    fresh.useRunStore(store);
    await fresh.configure({ ...TINY_SETUP, batchSize: 16 });
    const resumed = await fresh.resumeSaved(saved.id);
    expect(resumed.setup).toMatchObject({ preset: 'tiny', batchSize: 8, datasetSize: 64 });
    expect(fresh.status()).toMatchObject({ step: 2, save: { step: 2, error: null } });
    const again = await losses(fresh, 1);
    expect(Math.abs(again[0] - third[0])).toBeLessThan(1e-6);
    // Its next save replaces the one it resumed from.
    for (let i = 0; i < 500 && fresh.status().save?.step !== 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await fresh.savedRuns()).map((r) => r.step)).toEqual([3]);
    // A name given to the saved run stays with the run's later saves; an empty one is refused.
    const [third3] = await fresh.savedRuns();
    await fresh.renameSavedRun(third3.id, '  m 0.99, the baseline ');
    await expect(fresh.renameSavedRun(third3.id, '   ')).rejects.toThrow(/name must be 1 to 80 characters, got 0/);
    await losses(fresh, 1);
    for (let i = 0; i < 500 && fresh.status().save?.step !== 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await fresh.savedRuns()).map((r) => [r.step, r.name])).toEqual([[4, 'm 0.99, the baseline']]);
    fresh.dispose();
  });
});

describe('TrainingService saving a run soon after Start', () => {
  it('a run reloaded a few seconds after Start comes back: the first save follows the first step, not 30 s later', async () => {
    const store = new MemoryRunStore();
    const { service: s, batches } = await service();
    // The app's interval (30 s): the test's few seconds are far inside it.
    s.useRunStore(store);
    await s.configure(TINY_SETUP);
    const startedAt = Date.now();
    await s.start();
    while (!s.status().save && Date.now() - startedAt < 10_000) await new Promise((r) => setTimeout(r, 10));
    const save = s.status().save;
    expect(save).toMatchObject({ error: null });
    expect(save!.step).toBeGreaterThanOrEqual(1);
    const afterMs = Date.now() - startedAt;
    expect(afterMs).toBeLessThan(10_000);
    const stepMs = batches.flatMap((b) => Array.from(b.columns.stepMs));
    console.log(`first save at step ${save!.step}, ${afterMs} ms after Start: held training ${save!.blockedMs?.toFixed(1)} ms (steps so far: ${stepMs.map((x) => x.toFixed(0)).join(', ')} ms)`);
    // The page reloads while training: no pause, so no pause's save; the Worker is gone.
    s.dispose();

    const { service: fresh } = await service();
    fresh.useRunStore(store);
    await fresh.configure(TINY_SETUP);
    const [saved] = await fresh.savedRuns();
    expect(saved).toMatchObject({ step: save!.step, preset: 'tiny', datasetSize: 64 });
    await fresh.resumeSaved(saved.id);
    expect(fresh.status()).toMatchObject({ step: save!.step, state: 'paused' });
    expect((await fresh.step()).step).toBe(save!.step + 1);
    fresh.dispose();
  });
});

describe('TrainingService saving a kNN result at a step already saved', () => {
  it('a kNN run right after the save of its step is saved at once, with that step', async () => {
    const store = new MemoryRunStore();
    const { service: s } = await service();
    s.useRunStore(store);
    await s.configure(TINY_SETUP);
    await losses(s, 2);
    for (let i = 0; i < 500 && s.status().save?.step !== 2; i++) await new Promise((r) => setTimeout(r, 10));
    const [before] = await s.savedRuns();
    expect(before).toMatchObject({ step: 2, lastKnn: null });

    const knn = await s.evaluation.evaluateKnn();
    expect(knn.step).toBe(2);
    // The same step, saved again: the stored run now holds the result, in its list entry and its checkpoint.
    let saved = before;
    for (let i = 0; i < 500 && saved.lastKnn === null; i++) {
      await new Promise((r) => setTimeout(r, 10));
      [saved] = await s.savedRuns();
    }
    expect(await s.savedRuns()).toHaveLength(1);
    expect(saved).toMatchObject({ step: 2, lastKnn: knn.accuracy });
    const manifest = JSON.parse(strFromU8(unzipSync(await store.read(saved.id))['manifest.json'])) as { history: { knn: { step: number; accuracy: number }[] } };
    expect(manifest.history.knn.map((p) => [p.step, p.accuracy])).toEqual([[2, knn.accuracy]]);
    expect(s.status().save).toMatchObject({ step: 2, savedAt: saved.savedAt, error: null });

    s.dispose();
  });
});

describe('TrainingService probe results in a saved run', () => {
  it('a run with a probe result, saved and resumed in a fresh service, reports the same probe figure', async () => {
    const store = new MemoryRunStore();
    const { service: s } = await service();
    s.useRunStore(store);
    await s.configure(TINY_SETUP);
    await losses(s, 2);
    const probe = await s.evaluation.trainProbe({ epochs: 3 });
    expect(probe.accuracy).toBeGreaterThan(0);
    // The next save (after a step) holds the probe: its checkpoint's portable history too.
    await losses(s, 1);
    for (let i = 0; i < 500 && s.status().save?.step !== 3; i++) await new Promise((r) => setTimeout(r, 10));
    const [saved] = await s.savedRuns();
    const manifest = JSON.parse(strFromU8(unzipSync(await store.read(saved.id))['manifest.json'])) as { history: { probes: unknown[] } };
    expect(manifest.history.probes).toEqual([
      { step: 2, accuracy: probe.accuracy, perClass: probe.perClass.map((c) => (Number.isNaN(c.accuracy) ? null : c.accuracy)), epochs: 3, seconds: probe.seconds },
    ]);
    s.dispose();

    const { service: fresh } = await service();
    const events: EvaluationEvent[] = [];
    await fresh.evaluation.subscribe((e) => events.push(e));
    fresh.useRunStore(store);
    await fresh.configure(TINY_SETUP);
    await fresh.resumeSaved(saved.id);
    const runId = fresh.status().runId;
    const shown = events.flatMap((e) => (e.type === 'probe' ? [e.result] : []));
    // The page hears the probe result of the resumed run, the same figure as before the save.
    expect(shown).toHaveLength(1);
    expect(shown[0]).toEqual({ ...probe, runId });
    expect(fresh.evaluation.probeResults()).toEqual([{ ...probe, runId }]);
    expect(fresh.evaluation.last.probe).toEqual({ ...probe, runId });
    // Its later saves keep it.
    await losses(fresh, 1);
    for (let i = 0; i < 500 && fresh.status().save?.step !== 4; i++) await new Promise((r) => setTimeout(r, 10));
    const [later] = await fresh.savedRuns();
    const again = JSON.parse(strFromU8(unzipSync(await store.read(later.id))['manifest.json'])) as { history: { probes: { step: number }[] } };
    expect(again.history.probes.map((p) => p.step)).toEqual([2]);
    fresh.dispose();
  });
});

describe('TrainingService opening a headless trainer checkpoint', () => {
  it('goes on with a run of the built-in dataset that the headless trainer saved (no app record in the file)', async () => {
    // What `npm run train` builds for the built-in data: the same generator, size and seed.
    const config = configOf({ ...TINY_SETUP, stepBudget: 20 });
    const data = generateSynthetic({ size: 64, seed: config.seed, split: 'train' });
    const trainer = new Trainer(config, data);
    await trainer.step();
    await trainer.step();
    const bytes = await encodeCheckpoint(trainer, { dataset: await datasetIdentity(data), history: emptyHistory(), client: { data: null } });
    const next = (await trainer.step()).loss;
    trainer.dispose();

    const { service: s } = await service();
    await s.configure({ ...TINY_SETUP, preset: 'resnet8' });
    await s.resume(bytes, 'run.zip');
    expect(await s.currentSetup()).toMatchObject({ preset: 'tiny', version: 'v2', batchSize: 8, dataset: 'synthetic', datasetSize: 64, stepBudget: 20, seed: 3 });
    expect(s.status()).toMatchObject({ step: 2, stepBudget: 20 });
    expect(Math.abs((await s.step()).loss - next)).toBeLessThan(1e-6);
    s.dispose();
  });
});
