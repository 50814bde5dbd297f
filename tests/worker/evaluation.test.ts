import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES, type ImageDataset } from '../../src/data/dataset';
import { generateSynthetic } from '../../src/data/synthetic';
import { extractFeatures } from '../../src/eval/features';
import { knnMonitor } from '../../src/eval/monitor';
import { pca2d } from '../../src/eval/pca';
import { LinearProbe } from '../../src/eval/probe';
import { applyAugment } from '../../src/moco/augment';
import { Trainer } from '../../src/train/trainer';
import type { TrainingSetup } from '../../src/worker/types';
import type { EvaluationEvent, KnnResult } from '../../src/worker/evaluationTypes';
import { configOf, TrainingService } from '../../src/worker/training';
import { BUILT_IN_HELD_OUT_SIZE } from '../../src/worker/trainingData';
import { useWasmBackend } from '../support/helpers';
import { TINY_SETUP } from './setup';

const SETUP: TrainingSetup = TINY_SETUP;

/**
 * A second trainer built the way the service builds its own (same configuration, data and seeds):
 * on the same backend it holds the same weights after the same number of steps, so that what the
 * service reports can be recomputed here with the library functions directly.
 */
function replica(setup: TrainingSetup): Trainer {
  return new Trainer(configOf(setup), generateSynthetic({ size: setup.datasetSize, seed: setup.seed, split: 'train' }));
}

const heldOut = generateSynthetic({ size: BUILT_IN_HELD_OUT_SIZE, seed: SETUP.seed, split: 'test' });

async function until(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Image `i` of a dataset as RGBA bytes. */
function rgbaOf(ds: ImageDataset, i: number): number[] {
  const out: number[] = [];
  const rgb = ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
  for (let p = 0; p < rgb.length; p += 3) out.push(rgb[p], rgb[p + 1], rgb[p + 2], 255);
  return out;
}

function expectSameScore(a: Pick<KnnResult, 'accuracy' | 'perClass'>, b: Pick<KnnResult, 'accuracy' | 'perClass'>): void {
  expect(a.accuracy).toBe(b.accuracy);
  expect(a.perClass.map((c) => [c.correct, c.total])).toEqual(b.perClass.map((c) => [c.correct, c.total]));
}

beforeAll(useWasmBackend);

describe('evaluation in the training service (WebAssembly backend)', () => {
  const events: EvaluationEvent[] = [];
  const knnResults = () => events.flatMap((e) => (e.type === 'knn' ? [e.result] : []));
  const service = new TrainingService();
  const twin = replica(SETUP);

  beforeAll(async () => {
    await service.init(() => {}, { backends: ['wasm'] });
    await service.evaluation.subscribe((e) => events.push(e));
    await service.configure(SETUP);
  });

  afterAll(() => {
    service.dispose();
    twin.dispose();
  });

  it('kNN at step 0 equals the monitor computed directly on the same initial weights', async () => {
    const result = await service.evaluation.evaluateKnn();
    const direct = await knnMonitor(twin.moco.encoderQ, twin.dataset, heldOut, twin.config.augment);
    expect(result).toMatchObject({ runId: 1, step: 0, trigger: 'manual', k: 64, t: 0.1, bankSize: 64, queryCount: 1000 });
    expectSameScore(result, direct);
    expect(result.perClass).toHaveLength(10);
    expect(result.classNames[0]).toBe('disc');
    expect(result.seconds).toBeGreaterThan(0);
    // The on-demand result also reaches the listener (the page's one list of results), with progress before it.
    expect(knnResults()).toEqual([result]);
    const progress = events.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
    // Every phase reports from its start, the scoring chunk by chunk (256 queries a matrix product).
    expect(progress.map((p) => `${p.phaseNumber}/${p.phaseCount} ${p.phase} ${p.done}/${p.total}`)).toEqual([
      '1/3 features of the training set 0/64',
      '1/3 features of the training set 64/64',
      '2/3 features of the held-out images 0/1000',
      '2/3 features of the held-out images 256/1000',
      '2/3 features of the held-out images 512/1000',
      '2/3 features of the held-out images 768/1000',
      '2/3 features of the held-out images 1000/1000',
      '3/3 scoring (weighted votes) 0/1000',
      '3/3 scoring (weighted votes) 256/1000',
      '3/3 scoring (weighted votes) 512/1000',
      '3/3 scoring (weighted votes) 768/1000',
      '3/3 scoring (weighted votes) 1000/1000',
    ]);
    // The time left: unknown before the first chunk of a phase, then estimated from its pace, 0 at its end.
    const scoring = progress.filter((p) => p.phaseNumber === 3);
    expect(scoring[0].secondsLeft).toBeNull();
    for (const p of scoring.slice(1, -1)) expect(p.secondsLeft).toBeGreaterThanOrEqual(0);
    expect(scoring.at(-1)!.secondsLeft).toBe(0);
    // Arrived while scoring ran, with counts that only go up.
    const doneCounts = scoring.map((p) => p.done);
    expect(doneCounts).toEqual([...doneCounts].sort((a, b) => a - b));
    expect(new Set(doneCounts).size).toBe(doneCounts.length);
  });

  it('runs the monitor after every N-th step while training, with the results of the same encoder', async () => {
    events.length = 0;
    expect(await service.evaluation.configure({ knnEvery: 2 })).toEqual({ knnEvery: 2 });
    await expect(service.evaluation.configure({ knnEvery: 1.5 })).rejects.toThrow(/knnEvery must be an integer/);
    await service.start();
    await until('two monitor results', () => knnResults().length >= 2);
    await service.pause();
    const steps = service.status().step;
    const results = knnResults();
    // One result per even step up to where training stopped, none for odd steps (a run in flight at
    // the pause is given up, so the last even step may have none).
    const even = Array.from({ length: Math.floor(steps / 2) }, (_, i) => 2 * (i + 1));
    expect([even, steps % 2 === 0 ? even.slice(0, -1) : even]).toContainEqual(results.map((r) => r.step));
    for (const r of results) {
      expect(r.trigger).toBe('monitor');
      expect(r.perClass).toHaveLength(10);
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(r.perClass.reduce((n, c) => n + c.total, 0)).toBe(1000);
    }
    // The twin, trained the same steps, gives the same numbers.
    for (const r of results.slice(0, 2)) {
      while (twin.moco.stepCount < r.step) await twin.step();
      expectSameScore(r, await knnMonitor(twin.moco.encoderQ, twin.dataset, heldOut, twin.config.augment));
    }
    // 40 s alone, 50 s beside the rest of the suite.
  }, 300_000);

  it('gives up a monitor run when training is paused during it, leaving nothing behind', async () => {
    // A step without the monitor first: it drops any features kept from the last test's runs.
    await service.evaluation.configure({ knnEvery: 0 });
    await service.step();
    const before = tf.memory().numTensors;
    await service.evaluation.configure({ knnEvery: 1 });
    events.length = 0;
    let pausedAt = -1;
    let paused: Promise<void> | null = null;
    await service.evaluation.subscribe((e) => {
      events.push(e);
      // Paused from inside the first progress report: the start of the training set's features.
      if (e.type === 'progress' && e.progress.task === 'knn' && !paused) {
        pausedAt = e.progress.step;
        paused = service.pause();
      }
    });
    await service.start();
    await until('the pause', () => paused !== null);
    await paused;
    await service.evaluation.subscribe((e) => events.push(e));
    expect(service.status().state).toBe('paused');
    expect(service.status().step).toBe(pausedAt);
    expect(knnResults()).toEqual([]);
    // Given up at the end of the first chunk: its features are gone with it.
    expect(tf.memory().numTensors).toBe(before);
    await service.evaluation.configure({ knnEvery: 0 });
    await service.step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains a linear probe on frozen features: the same numbers as the probe trained directly', async () => {
    while (twin.moco.stepCount < service.status().step) await twin.step();
    const probe = await service.evaluation.trainProbe({ epochs: 10 });
    expect(probe).toMatchObject({ step: twin.moco.stepCount, epochs: 10, trainSize: 64, testSize: 1000, featureDim: 8 });
    const trainFeatures = await extractFeatures(twin.moco.encoderQ, twin.dataset, twin.config.augment);
    const testFeatures = await extractFeatures(twin.moco.encoderQ, heldOut, twin.config.augment);
    const direct = await LinearProbe.train(trainFeatures, twin.dataset.labels, { numClasses: 10, epochs: 10, seed: SETUP.seed });
    expectSameScore(probe, await direct.evaluate(testFeatures, heldOut.labels));
    expect(probe.finalLoss).toBeCloseTo(direct.lossHistory.at(-1)!, 5);
    expect(probe.perClass.reduce((n, c) => n + c.total, 0)).toBe(1000);
    direct.dispose();
    tf.dispose([trainFeatures, testFeatures]);
    await expect(service.evaluation.trainProbe({ epochs: 0 })).rejects.toThrow(/epochs must be an integer in 1\.\.200/);
  });

  it('projects the held-out features to 2-D with PCA', async () => {
    const view = await service.evaluation.embeddingView();
    expect(view.step).toBe(twin.moco.stepCount);
    expect(view.points).toHaveLength(2 * 1000);
    expect(Array.from(view.labels)).toEqual(Array.from(heldOut.labels));
    expect(view.classNames).toEqual([...heldOut.classNames]);
    expect(view.featureDim).toBe(8);
    const [first, second] = view.explainedVariance;
    expect(first).toBeGreaterThanOrEqual(second);
    expect(second).toBeGreaterThan(0);
    expect(first + second).toBeLessThanOrEqual(1 + 1e-9);
    const features = await extractFeatures(twin.moco.encoderQ, heldOut, twin.config.augment);
    const direct = await pca2d(features);
    features.dispose();
    let maxDiff = 0;
    for (let i = 0; i < direct.points.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct.points[i] - view.points[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(first).toBeCloseTo(direct.variances[0] / direct.totalVariance, 9);
  });

  it('finds the 8 nearest training images of a held-out image, with their cosine similarities and thumbnails', async () => {
    const result = await service.evaluation.neighbours(17);
    expect(result.query.index).toBe(17);
    expect(result.query.label).toBe(heldOut.labels[17]);
    expect(Array.from(result.query.rgba)).toEqual(rgbaOf(heldOut, 17));
    expect(result.neighbours).toHaveLength(8);
    const similarities = result.neighbours.map((n) => n.similarity);
    expect([...similarities].sort((a, b) => b - a)).toEqual(similarities);
    expect(new Set(result.neighbours.map((n) => n.index)).size).toBe(8);
    // Recomputed here: cosine similarity of the twin's features against the whole training set.
    const bank = await extractFeatures(twin.moco.encoderQ, twin.dataset, twin.config.augment);
    const query = await extractFeatures(twin.moco.encoderQ, heldOut, twin.config.augment, { indices: [17] });
    const all = Array.from(await tf.tidy(() => bank.matMul(query, false, true).reshape([-1])).data());
    tf.dispose([bank, query]);
    const expected = all.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s).slice(0, 8);
    for (const [j, n] of result.neighbours.entries()) {
      expect(n.similarity).toBeGreaterThanOrEqual(-1 - 1e-6);
      expect(n.similarity).toBeLessThanOrEqual(1 + 1e-6);
      expect(n.similarity).toBeCloseTo(all[n.index], 5);
      expect(n.similarity).toBeCloseTo(expected[j].s, 5);
      expect(n.label).toBe(twin.dataset.labels[n.index]);
      expect(Array.from(n.rgba)).toEqual(rgbaOf(twin.dataset, n.index));
    }
    await expect(service.evaluation.neighbours(1000)).rejects.toThrow(/held-out image 1000 does not exist: there are 1000/);
  });

  it("previews the views the last step trained on: its batch, its own augmentation draws", async () => {
    while (twin.moco.stepCount < service.status().step) await twin.step();
    await service.step();
    await twin.step();
    // The service's trainer drew the same batch and the same augmentations as the twin.
    const batch = Array.from(twin.lastBatch!);
    const draws = twin.moco.lastViewDraws!;
    const expected = tf.tidy(() => {
      const images = tf.tensor4d(batch.flatMap((i) => Array.from(twin.dataset.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), (v) => v / 255)), [batch.length, 32, 32, 3]);
      const { mean, std } = twin.config.augment;
      return draws.map((d) => applyAugment(images, d, twin.moco.augmentation).mul(std).add(mean).clipByValue(0, 1).mul(255).round().arraySync() as number[][][][]);
    });

    const preview = await service.evaluation.augmentationPreview(4);
    expect(preview).toMatchObject({ step: twin.moco.stepCount, batchStep: twin.moco.stepCount, size: 32 });
    expect(preview.pairs).toHaveLength(4);
    expect(preview.pairs.map((p) => p.index)).toEqual(batch.slice(0, 4));
    for (const [i, pair] of preview.pairs.entries()) {
      for (const v of [0, 1]) {
        const rgb = Array.from(pair.views[v]).filter((_, p) => p % 4 !== 3);
        expect(rgb).toEqual(expected[v][i].flat(2));
      }
    }
    for (const pair of preview.pairs) {
      expect(pair.label).toBe(twin.dataset.labels[pair.index]);
      expect(Array.from(pair.original)).toEqual(rgbaOf(twin.dataset, pair.index));
      const [a, b] = pair.views;
      expect(a).toHaveLength(32 * 32 * 4);
      expect(b).toHaveLength(32 * 32 * 4);
      let differing = 0;
      for (let p = 0; p < a.length; p++) if (a[p] !== b[p]) differing++;
      expect(differing).toBeGreaterThan(100);
      for (const view of pair.views) {
        for (let p = 3; p < view.length; p += 4) expect(view[p]).toBe(255);
        // Displayed as [0, 1] images: left normalised (values of −2.4..2.7 times 255), nearly every value would clip.
        let clipped = 0;
        for (let p = 0; p < view.length; p++) if (p % 4 !== 3 && (view[p] === 0 || view[p] === 255)) clipped++;
        expect(clipped / (32 * 32 * 3)).toBeLessThan(0.5);
      }
    }
    await expect(service.evaluation.augmentationPreview(0)).rejects.toThrow(/count must be an integer in 1\.\.64/);
  });
});

describe('evaluation: a held-out set equal to the training set', () => {
  /** Held-out images that are the training images themselves: each one's nearest neighbour is itself. */
  class SelfService extends TrainingService {
    private readonly copy = generateSynthetic({ size: SETUP.datasetSize, seed: SETUP.seed, split: 'train' });
    protected override heldOutDataset(): ImageDataset {
      return this.copy;
    }
  }
  const service = new SelfService();
  afterAll(() => service.dispose());

  it('finds each training image as its own nearest neighbour, at similarity 1', async () => {
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure(SETUP);
    for (const i of [0, 9, 40, 63]) {
      const { neighbours } = await service.evaluation.neighbours(i);
      expect(neighbours[0].index).toBe(i);
      expect(neighbours[0].similarity).toBeCloseTo(1, 5);
      expect(neighbours[1].similarity).toBeLessThan(neighbours[0].similarity);
    }
  });
});

describe('evaluation: tensors', () => {
  it('leaves no tensors behind: features are kept only until the next step, dispose frees all', async () => {
    const before = tf.memory().numTensors;
    const service = new TrainingService();
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure(SETUP);
    await expect(service.evaluation.augmentationPreview(8)).rejects.toThrow(/no step yet/);
    await service.step();
    const model = tf.memory().numTensors;
    await service.evaluation.augmentationPreview(8);
    expect(tf.memory().numTensors).toBe(model);
    await service.evaluation.neighbours(3);
    // The features of the training set and of the held-out images, kept for the next click.
    expect(tf.memory().numTensors).toBe(model + 2);
    // A step makes them stale: they go.
    await service.step();
    expect(tf.memory().numTensors).toBe(model);
    await service.evaluation.evaluateKnn();
    expect(tf.memory().numTensors).toBe(model + 2);
    await service.evaluation.trainProbe({ epochs: 2 });
    await service.evaluation.embeddingView();
    await service.evaluation.neighbours(4);
    expect(tf.memory().numTensors).toBe(model + 2);
    await service.step();
    expect(tf.memory().numTensors).toBe(model);
    service.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('evaluation: the augmented views of a resumed run', () => {
  it('says that a run loaded at a step needs one more step for its views, not that it has none', async () => {
    const service = new TrainingService();
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure(SETUP);
    await service.step();
    await service.step();
    await service.resume(await service.checkpoint(), 'run.zip');
    await expect(service.evaluation.augmentationPreview(4)).rejects.toThrow(/^no step since this run was loaded at step 2: .*take one step \(Step\) first$/);
    await service.step();
    expect((await service.evaluation.augmentationPreview(4)).batchStep).toBe(3);
    service.dispose();
  });
});

describe('evaluation: a linear probe on random features', () => {
  it('reads class information from the features of an untrained ResNet-8 better than chance', async () => {
    // Measured on the built-in shapes (1,000 training, 1,000 held-out images, 20 epochs): an untrained
    // ResNet-8 (64-dimensional features) gives 16.5% where chance is 10% (one standard error ≈ 1 point);
    // the tiny preset's 8 dimensions give 11–12%, within noise of chance, so it is not asserted here.
    // On WebAssembly (the app's backend without a GPU; the same 16.5%): 8 s at a load of 10 on 2
    // cores, where tfjs's JavaScript CPU backend took 208 s.
    const service = new TrainingService();
    await service.init(() => {}, { backends: ['wasm'] });
    await service.configure({ ...SETUP, preset: 'resnet8', datasetSize: 1000 });
    const probe = await service.evaluation.trainProbe({ epochs: 20 });
    service.dispose();
    console.log(`probe on an untrained ResNet-8: ${(100 * probe.accuracy).toFixed(1)}% in ${probe.seconds.toFixed(1)} s`);
    expect(probe.featureDim).toBe(64);
    expect(probe.accuracy).toBeGreaterThan(0.13);
  }, 300_000);
});
