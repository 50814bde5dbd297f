import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCifar } from '../../src/data/cifar';
import { generateSynthetic } from '../../src/data/synthetic';
import { imagesTensor } from '../../src/data/tensors';
import { extractFeatures, extractOutputs } from '../../src/eval/features';
import { evaluateKnn, topK, weightedKnn } from '../../src/eval/knn';
import { knnMonitor, knnMonitorOutputs } from '../../src/eval/monitor';
import { nearestNeighbours } from '../../src/eval/neighbours';
import { pca2d, topEigenpairs } from '../../src/eval/pca';
import { LinearProbe } from '../../src/eval/probe';
import { scorePredictions } from '../../src/eval/scores';
import { MOCO_V2_AUGMENT, normalizeImages } from '../../src/moco/augment';
import { Encoder } from '../../src/moco/encoder';
import { Rng } from '../../src/util/random';
import { PRESETS } from '../../src/moco/resnet';
import { cifarBytes } from '../support/dataFixtures';
import { flat, loadGolden, relativeError, useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);

/** Runs `f` and checks that it leaves no tensor behind. */
async function withoutLeaks<T>(f: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await f();
  expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
  return result;
}

describe('weighted kNN', () => {
  it("matches PyTorch's golden votes and predictions (the MoCo demo's knn_predict)", async () => {
    const g = loadGolden().weighted_knn;
    // The golden bank and queries are unit vectors already (the demo normalises features before the vote).
    for (const row of [...g.bank, ...g.queries]) expect(Math.hypot(...row)).toBeCloseTo(1, 12);
    const bank = tf.tensor2d(g.bank);
    const queries = tf.tensor2d(g.queries);
    const result = await withoutLeaks(() => weightedKnn(bank, g.bank_labels, queries, { k: g.k, t: g.t, numClasses: g.classes, returnVotes: true }));
    expect(relativeError(result.votes!, flat(g.votes))).toBeLessThan(1e-5);
    expect(Array.from(result.predictions)).toEqual(g.pred);
    expect(result.k).toBe(4);

    // Cosine similarity: rescaling the vectors (raw, unnormalised features) changes nothing.
    const scaledBank = bank.mul(tf.tensor2d(g.bank.map((_, i) => [0.5 + i]))) as tf.Tensor2D;
    const scaledQueries = queries.mul(7) as tf.Tensor2D;
    const scaled = await weightedKnn(scaledBank, g.bank_labels, scaledQueries, { k: g.k, t: g.t, numClasses: g.classes, returnVotes: true, chunkSize: 2 });
    expect(relativeError(scaled.votes!, flat(g.votes))).toBeLessThan(1e-5);
    tf.dispose([bank, queries, scaledBank, scaledQueries]);
  });

  it('votes by hand on a small example', async () => {
    // Bank on the unit circle at 0°, 10°, 90°, 180°, labels 0, 0, 1, 2; one query at 80°.
    const deg = (a: number) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)];
    const bank = tf.tensor2d([deg(0), deg(10), deg(90), deg(180)]);
    const query = tf.tensor2d([deg(80)]);
    const { votes, predictions } = await weightedKnn(bank, [0, 0, 1, 2], query, { k: 3, t: 0.5, numClasses: 3, returnVotes: true });
    // Neighbours: 90° (cos 10°), 10° (cos 70°), 0° (cos 80°); 180° is left out by k = 3.
    const w = (angle: number) => Math.exp(Math.cos((angle * Math.PI) / 180) / 0.5);
    expect(relativeError(votes!, [w(70) + w(80), w(10), 0])).toBeLessThan(1e-6);
    // At t = 0.5 the closest neighbour outweighs two farther ones (e^1.97 > e^0.68 + e^0.35)…
    expect(Array.from(predictions)).toEqual([1]);
    // …at t = 5 the weights are nearly flat and the two class-0 neighbours win by number.
    const flatVotes = await weightedKnn(bank, [0, 0, 1, 2], query, { k: 3, t: 5, numClasses: 3 });
    expect(Array.from(flatVotes.predictions)).toEqual([0]);
    const k1 = await weightedKnn(bank, [0, 0, 1, 2], query, { k: 1, numClasses: 3 });
    expect(Array.from(k1.predictions)).toEqual([1]);
    // k larger than the bank uses the whole bank.
    const all = await weightedKnn(bank, [0, 0, 1, 2], query, { numClasses: 3, t: 0.5, returnVotes: true });
    expect(all.k).toBe(4);
    expect(all.votes![2]).toBeCloseTo(w(100), 4);

    const score = await evaluateKnn(bank, [0, 0, 1, 2], tf.tensor2d([deg(85), deg(175), deg(5)]), [1, 0, 0], { k: 1, numClasses: 3 });
    expect(score.accuracy).toBeCloseTo(2 / 3, 10);
    expect(score.perClass.map((c) => [c.correct, c.total])).toEqual([
      [1, 2],
      [1, 1],
      [0, 0],
    ]);
    expect(Number.isNaN(score.perClass[2].accuracy)).toBe(true);
    tf.dispose([bank, query]);
  });

  it("picks the k largest values as tf.topk does, ties at the cut by lower index", async () => {
    const rng = tf.randomUniform([5000], -1, 1, 'float32', 11).dataSync() as Float32Array;
    // Many ties: values rounded to a few levels.
    const tied = rng.map((v) => Math.round(v * 8) / 8);
    for (const values of [rng, tied]) {
      for (const k of [1, 7, 200, 4999, 5000]) {
        const { indices } = tf.topk(tf.tensor1d(values), k);
        const expected = Array.from(await indices.data()).sort((a, b) => a - b);
        indices.dispose();
        expect(Array.from(topK(values, k)).sort((a, b) => a - b)).toEqual(expected);
      }
    }
  });

  it('gives the same predictions whatever the query chunk size', async () => {
    const rng = new Rng(3);
    const random = (n: number, d: number) => tf.tensor2d(Float32Array.from({ length: n * d }, () => rng.normal()), [n, d]);
    const bank = random(300, 16);
    const queries = random(70, 16);
    const labels = Array.from({ length: 300 }, (_, i) => i % 5);
    const a = await weightedKnn(bank, labels, queries, { numClasses: 5, chunkSize: 7, returnVotes: true });
    const b = await weightedKnn(bank, labels, queries, { numClasses: 5, returnVotes: true });
    expect(a.predictions).toEqual(b.predictions);
    expect(relativeError(a.votes!, b.votes!)).toBeLessThan(1e-6);
    tf.dispose([bank, queries]);
  });

  it('scores predictions overall and per class', () => {
    const s = scorePredictions([0, 1, 1, 2, 2], [0, 1, 2, 2, 0], 4);
    expect(s.accuracy).toBeCloseTo(0.6, 12);
    expect(s.perClass.map((c) => c.accuracy)).toEqual([0.5, 1, 0.5, NaN]);
  });
});

describe('features, the kNN monitor and nearest neighbours', () => {
  it('extracts L2-normalised features of the test transform, the same in any batch size, leaving no tensors', async () => {
    const encoder = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 16 }, { seed: 5, bnSplits: 1 });
    const ds = generateSynthetic({ size: 23, seed: 2 });
    const whole = await withoutLeaks(async () => {
      const f = await extractFeatures(encoder, ds, MOCO_V2_AUGMENT, { batchSize: 256 });
      const data = await f.data();
      f.dispose();
      return data;
    });
    const progress: number[] = [];
    const chunked = await extractFeatures(encoder, ds, MOCO_V2_AUGMENT, { batchSize: 5, onProgress: (done) => progress.push(done) });
    expect(chunked.shape).toEqual([23, 8]);
    expect(relativeError(await chunked.data(), whole)).toBeLessThan(1e-5);
    expect(progress).toEqual([5, 10, 15, 20, 23]);
    const norms = await chunked.norm('euclidean', 1).data();
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    // The same as calling the encoder on normalised images directly.
    const direct = tf.tidy(() => encoder.features(normalizeImages(imagesTensor(ds, [4, 9]), MOCO_V2_AUGMENT)));
    const picked = await extractFeatures(encoder, ds, MOCO_V2_AUGMENT, { indices: [4, 9] });
    expect(relativeError(await picked.data(), await direct.data())).toBeLessThan(1e-5);
    // The head output: MoCo's normalised embedding, from the same pass.
    const [backbone, head] = await extractOutputs(encoder, ds, MOCO_V2_AUGMENT, ['backbone', 'head'], { indices: [4, 9], batchSize: 1 });
    const embedded = tf.tidy(() => encoder.embed(normalizeImages(imagesTensor(ds, [4, 9]), MOCO_V2_AUGMENT), false));
    expect(head.shape).toEqual([2, 16]);
    expect(relativeError(await head.data(), await embedded.data())).toBeLessThan(1e-5);
    expect(relativeError(await backbone.data(), await direct.data())).toBeLessThan(1e-5);
    tf.dispose([chunked, direct, picked, backbone, head, embedded]);
    encoder.dispose();
  });

  it('runs the kNN monitor with a training set as the bank and held-out images as queries', async () => {
    const encoder = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 16 }, { seed: 1, bnSplits: 1 });
    const train = generateSynthetic({ size: 60, seed: 4 });
    const test = generateSynthetic({ size: 20, seed: 4, split: 'test' });
    const report = await withoutLeaks(() => knnMonitor(encoder, train, test, MOCO_V2_AUGMENT, { k: 10 }));
    expect(report.bankSize).toBe(60);
    expect(report.queryCount).toBe(20);
    expect(report.k).toBe(10);
    expect(report.perClass).toHaveLength(10);
    expect(report.perClass.reduce((n, c) => n + c.total, 0)).toBe(20);
    expect(report.accuracy).toBe(report.correct / 20);
    expect(report.seconds).toBeGreaterThan(0);
    const [backbone, head] = await withoutLeaks(() => knnMonitorOutputs(encoder, train, test, MOCO_V2_AUGMENT, ['backbone', 'head'], { k: 10 }));
    expect(backbone.output).toBe('backbone');
    expect(backbone.accuracy).toBe(report.accuracy);
    expect(head.output).toBe('head');
    expect(head.queryCount).toBe(20);
    // Queries identical to the bank: with k = 1 every image finds itself.
    const self = await knnMonitor(encoder, train, train, MOCO_V2_AUGMENT, { k: 1 });
    expect(self.accuracy).toBe(1);
    const cifar100 = parseCifar(cifarBytes([[0, 0]]), { fileName: 'train.bin' });
    await expect(knnMonitor(encoder, train, cifar100, MOCO_V2_AUGMENT)).rejects.toThrow(/has 10 classes but the queries \(train\.bin\) have 100/);
    encoder.dispose();
  });

  it('finds the most similar bank rows, most similar first, optionally skipping the query itself', async () => {
    const bank = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 1],
      [-1, 0],
      [2, 0.1],
    ]);
    const near = await withoutLeaks(() => nearestNeighbours(new Float32Array([1, 0]), bank, 3));
    expect(near.map((n) => n.index)).toEqual([0, 4, 2]);
    expect(near[0].similarity).toBeCloseTo(1, 6);
    expect(near[1].similarity).toBeCloseTo(2 / Math.hypot(2, 0.1), 6);
    expect(near[2].similarity).toBeCloseTo(Math.SQRT1_2, 6);
    const query = bank.slice([0, 0], [1, 2]).reshape([2]) as tf.Tensor1D;
    const others = await nearestNeighbours(query, bank, 8, 0);
    expect(others.map((n) => n.index)).toEqual([4, 2, 1, 3]);
    expect(others.at(-1)!.similarity).toBeCloseTo(-1, 6);
    tf.dispose([bank, query]);
  });
});

describe('PCA to 2-D', () => {
  it('finds the axes of a tilted ellipse in 3-D, with their variances', async () => {
    // Points on an ellipse with semi-axes 3 and 1, turned by 30° in the x–y plane, lifted to z = 5.
    // For evenly spaced angles the variance along each axis is a²/2 · n/(n−1).
    const n = 360;
    const angle = Math.PI / 6;
    const [u, v] = [
      [Math.cos(angle), Math.sin(angle), 0],
      [-Math.sin(angle), Math.cos(angle), 0],
    ];
    const rows = Array.from({ length: n }, (_, i) => {
      const t = (2 * Math.PI * i) / n;
      return [0, 1, 2].map((d) => 3 * Math.cos(t) * u[d] + Math.sin(t) * v[d] + (d === 2 ? 5 : 0));
    });
    const features = tf.tensor2d(rows);
    const pca = await withoutLeaks(() => pca2d(features));
    const alignment = (a: Float64Array, b: number[]) => Math.abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]);
    expect(alignment(pca.axes[0], u)).toBeCloseTo(1, 5);
    expect(alignment(pca.axes[1], v)).toBeCloseTo(1, 5);
    expect(pca.variances[0]).toBeCloseTo((9 / 2) * (n / (n - 1)), 3);
    expect(pca.variances[1]).toBeCloseTo((1 / 2) * (n / (n - 1)), 3);
    expect(pca.totalVariance).toBeCloseTo(5 * (n / (n - 1)), 3);
    // Point i sits at (±3 cos t, ±sin t) in the new coordinates (signs are the axes' convention).
    for (const i of [0, 45, 100]) {
      const t = (2 * Math.PI * i) / n;
      expect(Math.abs(pca.points[2 * i])).toBeCloseTo(Math.abs(3 * Math.cos(t)), 4);
      expect(Math.abs(pca.points[2 * i + 1])).toBeCloseTo(Math.abs(Math.sin(t)), 4);
    }
    features.dispose();
  });

  it('solves symmetric eigenproblems with close and repeated eigenvalues', () => {
    // Q·diag(5, 4.999, 1, 1, 0.5, 0)·Qᵀ for a random rotation Q: the top two are nearly equal.
    const d = 6;
    const rng = new Rng(9);
    const q = Array.from({ length: d }, () => Float64Array.from({ length: d }, () => rng.normal()));
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) {
        const p = q[i].reduce((s, x, k) => s + x * q[j][k], 0);
        for (let k = 0; k < d; k++) q[i][k] -= p * q[j][k];
      }
      const norm = Math.hypot(...q[i]);
      for (let k = 0; k < d; k++) q[i][k] /= norm;
    }
    const eig = [5, 4.999, 1, 1, 0.5, 0];
    const m = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] = eig.reduce((s, e, k) => s + e * q[k][i] * q[k][j], 0);
    const { values, vectors } = topEigenpairs(m, d, 3);
    expect(values[0]).toBeCloseTo(5, 9);
    expect(values[1]).toBeCloseTo(4.999, 9);
    expect(values[2]).toBeCloseTo(1, 9);
    for (const [i, expected] of [
      [0, q[0]],
      [1, q[1]],
    ] as const) {
      expect(Math.abs(vectors[i].reduce((s, x, k) => s + x * expected[k], 0))).toBeCloseTo(1, 6);
      // The sign convention: the largest entry is positive.
      const largest = vectors[i].reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
      expect(largest).toBeGreaterThan(0);
    }
  });
});

describe('linear probe', () => {
  /** Gaussian blobs in `d` dimensions, one centre per class, `perClass` points each, labels round-robin. */
  function blobs(rng: Rng, classes: number, perClass: number, d: number, spread: number, centres?: number[][]) {
    const c = centres ?? Array.from({ length: classes }, () => Array.from({ length: d }, () => 3 * rng.normal()));
    const labels: number[] = [];
    const rows: number[][] = [];
    for (let i = 0; i < classes * perClass; i++) {
      const label = i % classes;
      labels.push(label);
      rows.push(c[label].map((x) => x + spread * rng.normal()));
    }
    return { features: tf.tensor2d(rows), labels, centres: c };
  }

  it('separates linearly separable classes on held-out features', async () => {
    const rng = new Rng(1);
    const train = blobs(rng, 4, 60, 8, 0.5);
    const test = blobs(rng, 4, 50, 8, 0.5, train.centres);
    const before = tf.memory().numTensors;
    const probe = await LinearProbe.train(train.features, train.labels, { numClasses: 4, epochs: 20, batchSize: 32, seed: 2 });
    const score = await probe.evaluate(test.features, test.labels);
    expect(score.accuracy).toBe(1);
    expect(probe.lossHistory).toHaveLength(20);
    expect(probe.lossHistory.at(-1)!).toBeLessThan(probe.lossHistory[0] / 4);
    probe.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([train.features, test.features]);
  });

  it('stays near chance on random labels', async () => {
    const rng = new Rng(7);
    const classes = 5;
    const random = (n: number) => tf.tensor2d(Float32Array.from({ length: n * 16 }, () => rng.normal()), [n, 16]);
    const trainFeatures = random(500);
    const testFeatures = random(1000);
    const label = () => Math.floor(rng.next() * classes);
    const probe = await LinearProbe.train(trainFeatures, Array.from({ length: 500 }, label), { numClasses: classes, epochs: 15, seed: 3 });
    const score = await probe.evaluate(testFeatures, Array.from({ length: 1000 }, label));
    // Chance is 20%; 1,000 test points put 3 standard deviations at ±3.8 points.
    expect(score.accuracy).toBeGreaterThan(0.15);
    expect(score.accuracy).toBeLessThan(0.25);
    probe.dispose();
    tf.dispose([trainFeatures, testFeatures]);
    await expect(LinearProbe.train(tf.zeros([2, 3]) as tf.Tensor2D, [0, 7], { numClasses: 3 })).rejects.toThrow(/label 7 of row 1 is outside 0..2/);
  });

  it('leaves no tensor behind when reading an epoch\'s loss back fails (a lost GPU device)', async () => {
    const features = tf.randomNormal([40, 6], 0, 1, 'float32', 5) as tf.Tensor2D;
    const labels = Array.from({ length: 40 }, (_, i) => i % 3);
    const before = tf.memory().numTensors;
    const readBack = vi.spyOn(tf.Tensor.prototype, 'data').mockRejectedValueOnce(new Error('the GPU device was lost'));
    try {
      await expect(LinearProbe.train(features, labels, { numClasses: 3, epochs: 2, batchSize: 8 })).rejects.toThrow('the GPU device was lost');
    } finally {
      readBack.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
    features.dispose();
  });
});
