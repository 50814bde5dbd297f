import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ExperimentRunner, experimentSetups } from '../../src/worker/experiment';
import type { EvaluationEvent, EvaluationProgress } from '../../src/worker/evaluationTypes';
import { firstDifferingStep, type ExperimentParam, type ExperimentProgress } from '../../src/worker/experimentTypes';
import { TrainingService } from '../../src/worker/training';
import { cifarBytes } from '../support/dataFixtures';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

async function service(store: MemoryRunStore): Promise<TrainingService> {
  const s = new TrainingService();
  // WebAssembly: the app's backend without a GPU, a tenth of the JavaScript CPU backend's time; what
  // is tested here does not depend on the backend.
  await s.init(() => {}, { backends: ['wasm'] });
  s.useRunStore(store);
  return s;
}

/** Four fixed images, for comparing the model before and after. */
const IMAGES = Float32Array.from({ length: 4 * 32 * 32 * 3 }, (_, i) => (Math.sin(i * 0.37) + 1) / 2);

describe('experiments in the Worker (WebAssembly backend)', () => {
  const services: TrainingService[] = [];
  afterAll(() => services.forEach((s) => s.dispose()));

  it('runs each value on the same data and seed, tables them, and gives back the user\'s run untouched and saved', async () => {
    const store = new MemoryRunStore();
    const s = await service(store);
    services.push(s);
    await s.configure(TINY_SETUP);
    await s.step();
    await s.step();
    const before = await s.embed(IMAGES, 'query');

    const progress: ExperimentProgress[] = [];
    const runner = new ExperimentRunner(s);
    const result = await runner.run({ base: TINY_SETUP, param: 'momentum', values: [0, 0.99], steps: 3, knn: true }, (p) => progress.push(p));

    expect(result.cancelled).toBe(false);
    expect(result.restoredStep).toBe(2);
    expect(result.runs.map((r) => r.label)).toEqual(['m = 0', 'm = 0.99']);
    for (const [i, r] of result.runs.entries()) {
      expect(r.error).toBeNull();
      expect(r.summary!.steps).toBe(3);
      expect(Number.isFinite(r.summary!.finalLoss)).toBe(true);
      expect(r.summary!.finalContrastiveAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.summary!.knn).toBeGreaterThan(0);
      expect(r.summary!.knn).toBeLessThanOrEqual(1);
      expect(r.summary!.seconds).toBeGreaterThan(0);
      expect(r.curves.count).toBe(3);
      expect(Array.from(r.curves.columns.step)).toEqual([1, 2, 3]);
      expect(Array.from(r.curves.columns.momentum)).toEqual(new Array(3).fill([0, 0.99][i]));
      expect(r.curves.setup).toMatchObject({ stepBudget: 3, seed: TINY_SETUP.seed, params: { momentum: [0, 0.99][i] } });
      expect(r.curves.knn.map((k) => k.step)).toEqual([3]);
    }
    // Same data, seed and start: the same losses until the query encoder has moved (the warm-up's first rate is 0), then m shows.
    const [a, b] = result.runs.map((r) => r.curves.columns.loss);
    expect(a[0]).toBe(b[0]);
    expect(a[1]).toBe(b[1]);
    expect(a[2]).not.toBe(b[2]);
    // As the panel tells a user who picks fewer steps.
    expect(firstDifferingStep('momentum', [0, 0.99], TINY_SETUP)).toBe(3);

    // Progress: saving, both runs step by step with an estimate, kNN, then the user's run restored.
    expect(progress[0].phase).toBe('saving');
    expect(progress.at(-1)!.phase).toBe('restoring');
    expect(progress.filter((p) => p.phase === 'knn').map((p) => p.run)).toEqual([0, 1]);
    expect(progress.some((p) => p.phase === 'training' && p.run === 1 && p.remainingMs !== null)).toBe(true);
    expect(progress.at(-1)!.finished!.map((r) => r.label)).toEqual(['m = 0', 'm = 0.99']);

    // The user's run is back at its step with its weights; it was saved first, and the experiment's runs were not saved.
    expect(s.status()).toMatchObject({ step: 2, state: 'paused' });
    expect(await s.currentSetup()).toEqual(TINY_SETUP);
    expect(Array.from(await s.embed(IMAGES, 'query'))).toEqual(Array.from(before));
    expect((await s.savedRuns()).map((r) => r.step)).toEqual([2]);
    expect((await s.step()).step).toBe(3);
  });

  it('runs of K or T give the same losses until the step the panel names (firstDifferingStep), and differ at it', async () => {
    const s = await service(new MemoryRunStore());
    services.push(s);
    await s.configure(TINY_SETUP);
    const runner = new ExperimentRunner(s);
    // Batch 8: the smallest queue (8 keys) is full after step 2, so step 3 reads 8 keys in one run and 16 in the other.
    const cases: { param: ExperimentParam; values: number[]; first: number }[] = [
      { param: 'queueSize', values: [8, 24], first: 3 },
      { param: 'temperature', values: [0.1, 0.5], first: 2 },
    ];
    for (const { param, values, first } of cases) {
      expect(firstDifferingStep(param, values, TINY_SETUP)).toBe(first);
      const result = await runner.run({ base: TINY_SETUP, param, values, steps: first, knn: false });
      const [a, b] = result.runs.map((r) => Array.from(r.curves.columns.loss));
      expect(a, param).toHaveLength(first);
      expect(a.slice(0, first - 1), param).toEqual(b.slice(0, first - 1));
      expect(Math.abs(a[first - 1] - b[first - 1]), param).toBeGreaterThan(1e-4);
    }
  });

  it('tables what m does at once: with m = 0 the key encoder is the query encoder (lag 0, consistency 1), with 0.99 it trails it', async () => {
    const s = await service(new MemoryRunStore());
    services.push(s);
    await s.configure(TINY_SETUP);
    const runner = new ExperimentRunner(s);
    // 5 steps: the last is a key-consistency probe (every 5 steps), after three steps in which the query encoder learned.
    const result = await runner.run({ base: TINY_SETUP, param: 'momentum', values: [0, 0.99], steps: 5, knn: false });
    const [m0, m99] = result.runs.map((r) => r.summary!);
    expect(m0.finalKeyLag).toBe(0);
    expect(m0.finalKeyConsistency).toBeCloseTo(1, 6);
    // The same as the last step's own figures (the last tenth of 5 steps is step 5).
    const lagAt5 = result.runs[1].curves.columns.keyLag[4];
    expect(m99.finalKeyLag).toBe(lagAt5);
    expect(m99.finalKeyLag).toBeGreaterThan(1e-5);
    expect(m99.finalKeyLag).toBeLessThan(0.05);
    expect(m99.finalKeyConsistency).toBeLessThan(1 - 1e-7);
    expect(m99.finalKeyConsistency).toBeGreaterThan(0.9);
    // Near chance after 5 steps, in both runs: the loss over ln(n + 1) near 1.
    for (const r of [m0, m99]) expect(Math.abs(r.finalLossRatio - 1)).toBeLessThan(0.1);
  });

  it('tables the loss over its chance level: runs of K = 16 and K = 4,096 near the start read about 1, where their raw losses differ', async () => {
    const s = await service(new MemoryRunStore());
    services.push(s);
    await s.configure(TINY_SETUP);
    const runner = new ExperimentRunner(s);
    // 10 steps at batch 8: the last step reads 16 keys from the full small queue, 72 from the large one.
    const result = await runner.run({ base: TINY_SETUP, param: 'queueSize', values: [16, 4096], steps: 10, knn: false });
    const [small, large] = result.runs.map((r) => r.summary!);
    expect(Array.from(result.runs.map((r) => r.curves.columns.negatives[9]))).toEqual([16, 72]);
    expect(large.finalLoss - small.finalLoss).toBeGreaterThan(1);
    expect(small.finalLossRatio).toBeCloseTo(small.finalLoss / Math.log(17), 12);
    expect(large.finalLossRatio).toBeCloseTo(large.finalLoss / Math.log(73), 12);
    for (const r of [small, large]) expect(Math.abs(r.finalLossRatio - 1)).toBeLessThan(0.05);
  });

  it('a cancelled experiment keeps the runs it finished, stops within a step, and restores a run that had no step as a fresh model', async () => {
    const store = new MemoryRunStore();
    const s = await service(store);
    services.push(s);
    await s.configure(TINY_SETUP);
    const runner = new ExperimentRunner(s);
    let cancelledAt = -1;
    const result = await runner.run({ base: TINY_SETUP, param: 'queueSize', values: [16, 64], steps: 40, knn: false }, (p) => {
      if (cancelledAt < 0 && p.phase === 'training' && p.step >= 1) {
        cancelledAt = p.step;
        void runner.cancel();
      }
    });
    expect(result.cancelled).toBe(true);
    expect(result.runs).toHaveLength(1);
    expect(result.runs[0].label).toBe('K = 16');
    expect(result.runs[0].summary!.steps).toBeGreaterThanOrEqual(cancelledAt);
    expect(result.runs[0].summary!.steps).toBeLessThanOrEqual(cancelledAt + 1);
    expect(result.runs[0].summary!.knn).toBeNull();
    expect(s.status()).toMatchObject({ step: 0, state: 'idle' });
    expect(await s.currentSetup()).toEqual(TINY_SETUP);
    expect(await s.savedRuns()).toEqual([]);
  });

  it('a cancel during a run\'s final kNN stops the kNN at its next chunk of images: the run is kept without a kNN figure, no error', async () => {
    const store = new MemoryRunStore();
    const s = await service(store);
    services.push(s);
    await s.configure(TINY_SETUP);
    const runner = new ExperimentRunner(s);
    const events: EvaluationEvent[] = [];
    let cancelledAt: EvaluationProgress | null = null;
    await s.evaluation.subscribe((e) => {
      events.push(e);
      // Cancelled once the kNN has read the first 256 of the 1,000 held-out images: three chunks are left.
      if (!cancelledAt && e.type === 'progress' && e.progress.task === 'knn' && e.progress.phase === 'features of the held-out images' && e.progress.done > 0) {
        cancelledAt = e.progress;
        void runner.cancel();
      }
    });
    const tensors = tf.memory().numTensors;
    const result = await runner.run({ base: TINY_SETUP, param: 'queueSize', values: [16, 64], steps: 2, knn: true });
    expect(cancelledAt).toMatchObject({ done: 256, total: 1000 });
    expect(result.cancelled).toBe(true);
    expect(result.runs).toHaveLength(1);
    expect(result.runs[0]).toMatchObject({ label: 'K = 16', error: null, summary: { steps: 2, knn: null } });
    expect(result.runs[0].curves.knn).toEqual([]);
    // Nothing of the kNN after the cancel: no further chunk, no scoring, no result.
    const knnEvents = events.filter((e) => (e.type === 'progress' && e.progress.task === 'knn') || e.type === 'knn');
    expect(knnEvents.at(-1)).toEqual({ type: 'progress', progress: cancelledAt });
    expect(s.status()).toMatchObject({ step: 0, state: 'idle' });
    // Nothing of the stopped kNN is left once the features cached for the experiment's model go (as between two steps): no half-read chunk.
    await s.evaluation.afterStep();
    expect(tf.memory().numTensors).toBe(tensors);
    // The service takes the next kNN as usual.
    await s.step();
    expect((await s.evaluation.evaluateKnn()).queryCount).toBe(1000);
  });

  it('sets a training run aside with one read of the model: the bytes held are those the pause saved; a later change is read anew', async () => {
    const store = new MemoryRunStore();
    const s = await service(store);
    services.push(s);
    // No in-memory restore points: the saves alone read the model.
    s.keepRestorePoints(Number.POSITIVE_INFINITY);
    await s.configure(TINY_SETUP);
    const encodes = vi.spyOn(s as unknown as { encodeRun(): Promise<Uint8Array> }, 'encodeRun');
    await s.start();
    for (let i = 0; i < 1000 && (s.status().step < 2 || !s.status().save); i++) await new Promise((r) => setTimeout(r, 10));
    // The run's first save (after its first step) is behind; what follows is the pause's.
    expect(s.status().save).toMatchObject({ error: null });
    encodes.mockClear();
    const held = await s.holdRun();
    expect(held.step).toBeGreaterThanOrEqual(2);
    // The pause saved the run; holding it took the same bytes.
    expect(encodes).toHaveBeenCalledTimes(1);
    const [saved] = await store.list();
    expect(saved.step).toBe(held.step);
    expect(await store.read(saved.id)).toEqual(held.bytes);
    expect(held.save).toMatchObject({ step: held.step, error: null });

    // Back, then a slider moved while paused: the run is no longer what was read, so it is read again, with the new temperature.
    await s.restoreRun(held);
    await s.setParams({ temperature: 0.1 });
    const again = await s.holdRun();
    expect(encodes).toHaveBeenCalledTimes(2);
    await s.restoreRun(again);
    expect((await s.currentSetup())!.params.temperature).toBe(0.1);
    expect(s.status().step).toBe(held.step);
  });

  it("puts back a run on the user's files with its files, also after an experiment on the built-in shapes (a Dataset choice not yet applied): it trains on from step 2 as if never set aside", async () => {
    const bytes = cifarBytes(Array.from({ length: 50 }, (_, i) => [i % 10])) as Uint8Array<ArrayBuffer>;
    const onFiles = async () => {
      const s = await service(new MemoryRunStore());
      services.push(s);
      await s.configure(TINY_SETUP);
      await s.loadDataset({ kind: 'files', files: [{ path: 'data_batch_1.bin', file: new Blob([bytes]) }], labels: 'fine' });
      return s;
    };
    const straight = await onFiles();
    const reference = [(await straight.step()).loss, (await straight.step()).loss, (await straight.step()).loss];

    const s = await onFiles();
    const losses = [(await s.step()).loss, (await s.step()).loss];
    const theirs = (await s.datasetInfo())!;
    expect(theirs).toMatchObject({ source: 'files', name: 'data_batch_1.bin' });
    // The page's setup form says the built-in shapes (chosen in the Dataset menu, Reset not clicked): the experiment's runs train on them.
    const result = await new ExperimentRunner(s).run({ base: TINY_SETUP, param: 'momentum', values: [0.9], steps: 1, knn: false });
    // Its images, not the files of the run in use (40 of them): the panel's note counts epochs of these.
    expect(result.runs[0]).toMatchObject({ error: null, trainingImages: TINY_SETUP.datasetSize, summary: { steps: 1 }, curves: { setup: { dataset: 'synthetic' } } });
    expect(result).toMatchObject({ restoredStep: 2, restoredLost: null });
    expect(s.status()).toMatchObject({ step: 2, state: 'paused', error: null });
    expect(await s.datasetInfo()).toEqual(theirs);
    losses.push((await s.step()).loss);
    for (let i = 0; i < 3; i++) expect(Math.abs(losses[i] - reference[i])).toBeLessThan(1e-6);
  });

  it("reads a saved run's curves (every step, its kNN, setup and final parameters) from its manifest alone", async () => {
    const store = new MemoryRunStore();
    const s = await service(store);
    services.push(s);
    await s.configure({ ...TINY_SETUP, params: { ...TINY_SETUP.params, momentum: 0.9 } });
    const losses = [(await s.step()).loss, (await s.step()).loss];
    await s.setParams({ temperature: 0.1 });
    await s.evaluation.evaluateKnn();
    losses.push((await s.step()).loss);
    for (let i = 0; i < 500 && s.status().save?.step !== 3; i++) await new Promise((r) => setTimeout(r, 10));
    const [run] = await s.savedRuns();
    // The tensors are not read: a save whose tensors are damaged still gives its curves.
    const bytes = await store.read(run.id);
    const damaged = bytes.slice();
    damaged[damaged.length - 200] ^= 0xff;
    store.runs.get(run.id)!.bytes = damaged;
    const curves = await s.savedRunCurves(run.id);
    expect(curves.count).toBe(3);
    expect(Array.from(curves.columns.step)).toEqual([1, 2, 3]);
    Array.from(curves.columns.loss).forEach((l, i) => expect(l).toBeCloseTo(losses[i], 6));
    expect(Array.from(curves.columns.temperature)).toEqual([0.2, 0.2, 0.1]);
    expect(curves.setup).toMatchObject({ preset: 'tiny', batchSize: 8, params: { momentum: 0.9, temperature: 0.1 } });
    expect(curves.knn.map((k) => k.step)).toEqual([2]);
    await expect(s.resumeSaved(run.id)).rejects.toThrow(/damaged/);
  });

  it('refuses values it cannot run, naming them', () => {
    const spec = { base: TINY_SETUP, steps: 2, knn: false };
    expect(() => experimentSetups({ ...spec, param: 'momentum', values: [0.9, 1.5] })).toThrow(/momentum/i);
    expect(() => experimentSetups({ ...spec, param: 'version', values: ['v1', 'v3'] })).toThrow(/v1 or v2, not 'v3'/);
    expect(() => experimentSetups({ ...spec, param: 'queueSize', values: [256, 256] })).toThrow(/twice/);
    expect(() => experimentSetups({ ...spec, param: 'momentum', values: [0.9], steps: 0 })).toThrow(/steps per run/);
    expect(experimentSetups({ ...spec, param: 'batchSize', values: [8, 16] }).map((x) => x.batchSize)).toEqual([8, 16]);
  });
});
