import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightedKnn } from '../../src/eval/knn';
import { useCustomKernels } from '../../src/kernels/registry';
import { splitBatchNorm } from '../../src/moco/batchNorm';
import { mocoConfig, type MocoVersion } from '../../src/moco/config';
import { contrastiveStats, infoNce } from '../../src/moco/loss';
import { MoCo } from '../../src/moco/moco';
import type { PresetName } from '../../src/moco/resnet';
import { flat, loadGolden, relativeError } from '../support/helpers';

/** The same computation on the CPU backend and on the wasm backend, as plain arrays. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array }> {
  const out: Record<string, Float32Array> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    useCustomKernels(true);
    const t = tf.tidy(f);
    out[backend] = (await t.data()) as Float32Array;
    t.dispose();
  }
  return { cpu: out.cpu, wasm: out.wasm };
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  Object.assign(tf.backend(), { firstUse: false });
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe("tfjs's WebAssembly backend with our weight gradient (--backend wasm)", () => {
  it('gives the weight gradient of a strided convolution that the CPU backend gives', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
      return tf.grad((filter: tf.Tensor) => tf.conv2d(x, filter as tf.Tensor4D, 2, 'same').square().sum())(w);
    });
    expect(wasm.length).toBe(3 * 3 * 3 * 5);
    expect(maxRelativeError(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('crops and resizes as the CPU backend, also a box over the full width (where stock wasm does not interpolate)', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const images = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const boxes = tf.tensor2d([[0.129, 0, 1, 1], [0.0645, 0.0323, 0.839, 0.871], [0, 0, 1, 1]]);
      return tf.image.cropAndResize(images, boxes, tf.tensor1d([0, 1, 2], 'int32'), [32, 32], 'bilinear');
    });
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
  });

  // The app falls back to this backend and `--backend auto` picks it without a GPU: the numbers
  // PyTorch computed in float64 (../shared/golden) hold on it as on the CPU backend (tests/moco/golden.test.ts).
  it("gives PyTorch's golden InfoNCE (loss, gradient, partial queue), split batch-norm and weighted kNN", async () => {
    await tf.setBackend('wasm');
    useCustomKernels(true);
    const golden = loadGolden();
    const g = golden.info_nce;
    const bias = (filled: number) => tf.tensor2d([Array.from({ length: 6 }, (_, i) => (i < filled ? 0 : -1e9))]);
    const [q, k, queue] = [tf.tensor2d(g.q), tf.tensor2d(g.k), tf.tensor2d(g.queue)];
    const out = infoNce(q, k, queue, bias(6), g.T);
    expect(relativeError(await out.logits.data(), flat(g.logits))).toBeLessThan(1e-5);
    expect((await out.loss.data())[0]).toBeCloseTo(g.loss, 5);
    const stats = contrastiveStats(out, bias(6), 6);
    expect((await stats.top1.data())[0]).toBe(g.contrastive_top1);
    expect((await stats.meanPositive.data())[0]).toBeCloseTo(g.mean_pos_sim, 6);
    const lossOf = (filled: number) => (x: tf.Tensor) => infoNce(x as tf.Tensor2D, k, queue, bias(filled), g.T).loss;
    expect(relativeError(await tf.grad(lossOf(6))(q).data(), flat(g.grad_q))).toBeLessThan(1e-5);
    const p = golden.info_nce_partial_queue;
    expect((await lossOf(p.filled)(q).data())[0]).toBeCloseTo(p.loss, 5);
    expect(relativeError(await tf.grad(lossOf(p.filled))(q).data(), flat(p.grad_q))).toBeLessThan(1e-5);

    const bn = golden.split_batch_norm;
    const { y } = splitBatchNorm(tf.tensor4d(bn.x_nhwc), tf.tensor1d(bn.gamma), tf.tensor1d(bn.beta), bn.groups, bn.eps);
    expect(relativeError(await y.data(), flat(bn.y_nhwc))).toBeLessThan(1e-5);

    const knn = golden.weighted_knn;
    const result = await weightedKnn(tf.tensor2d(knn.bank), knn.bank_labels, tf.tensor2d(knn.queries), { k: knn.k, t: knn.t, numClasses: knn.classes, returnVotes: true });
    expect(relativeError(result.votes!, flat(knn.votes))).toBeLessThan(1e-5);
    expect(Array.from(result.predictions)).toEqual(knn.pred);
  });

  /** `steps` MoCo steps on `backend`: the statistics of each, and the query encoder's parameters after. */
  async function train(backend: string, version: MocoVersion, preset: PresetName, steps: number) {
    await tf.setBackend(backend);
    useCustomKernels(true);
    const moco = new MoCo(mocoConfig(version, preset, { batchSize: 4, queueSize: 8, bnSplits: 2 }));
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const stats = [];
    for (let i = 0; i < steps; i++) stats.push(await moco.step(images));
    const parameters = new Map<string, Float32Array>();
    for (const [name, v] of moco.encoderQ.parameters) parameters.set(name, (await v.data()) as Float32Array);
    moco.dispose();
    images.dispose();
    return { stats, parameters };
  }

  it('trains MoCo v1 on ResNet-8 as the CPU backend does: losses, key-encoder lag, every parameter after the update', async () => {
    const cpu = await train('cpu', 'v1', 'resnet8', 2);
    const wasm = await train('wasm', 'v1', 'resnet8', 2);
    expect(wasm.stats[1].loss).toBeGreaterThan(1);
    for (let i = 0; i < 2; i++) {
      expect(wasm.stats[i].loss).toBeCloseTo(cpu.stats[i].loss, 3);
      expect(wasm.stats[i].keyLag).toBeCloseTo(cpu.stats[i].keyLag, 5);
      expect(wasm.stats[i].meanPositiveSimilarity).toBeCloseTo(cpu.stats[i].meanPositiveSimilarity, 3);
    }
    // Every parameter of the query encoder (convolutions, batch-norm, the head) moved as on the CPU.
    expect([...wasm.parameters.keys()]).toEqual([...cpu.parameters.keys()]);
    for (const [name, values] of cpu.parameters) expect(relativeError(wasm.parameters.get(name)!, values), name).toBeLessThan(1e-3);
  }, 300_000);

  it('trains MoCo steps with the losses of the CPU backend', async () => {
    const losses: Record<string, number[]> = {};
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      useCustomKernels(true);
      const moco = new MoCo(mocoConfig('v2', 'tiny', { batchSize: 4, queueSize: 8, bnSplits: 2 }));
      const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      losses[backend] = [];
      for (let i = 0; i < 3; i++) losses[backend].push((await moco.step(images)).loss);
      moco.dispose();
      images.dispose();
    }
    // Step 1 has an empty queue (loss 0); the others are ln(K + 1)-sized.
    expect(losses.wasm[1]).toBeGreaterThan(1);
    for (let i = 0; i < 3; i++) expect(losses.wasm[i]).toBeCloseTo(losses.cpu[i], 4);
  }, 120_000);
});
