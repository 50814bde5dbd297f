import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { imagesTensor } from '../../src/data/tensors';
import { mocoConfig } from '../../src/moco/config';
import { customKernelSettings, useCustomKernels } from '../../src/kernels/registry';
import { splitBatchNorm } from '../../src/moco/batchNorm';
import { Encoder } from '../../src/moco/encoder';
import { MoCo } from '../../src/moco/moco';
import { PRESETS } from '../../src/moco/resnet';
import { writeRing } from '../../src/moco/queue';
import { Rng } from '../../src/util/random';
import { encodeShuffled } from '../../src/moco/shuffle';
import { Trainer } from '../../src/train/trainer';
import { relativeError, useWasmBackend } from '../support/helpers';

// The method's behaviour, on the app's backend without a GPU (a tenth of the JavaScript CPU
// backend's time); the numbers against PyTorch are golden.test.ts's, on the CPU backend.
beforeAll(useWasmBackend);

const tiny = (overrides: Parameters<typeof mocoConfig>[2] = {}) =>
  mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 20, bnSplits: 2, ...overrides });

function snapshot(params: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...params].map(([name, v]) => [name, v.dataSync() as Float32Array]));
}

describe('encoder', () => {
  it('maps 32×32 images to L2-normalised 128-d embeddings, with the presets of the issue', () => {
    const enc = new Encoder({ ...PRESETS.resnet18, head: 'mlp', embeddingDim: 128 }, { seed: 1, bnSplits: 1 });
    // ResNet-18 for CIFAR: 11.2 M backbone parameters, plus a 512×512 and a 512×128 layer.
    expect(enc.parameterCount()).toBe(11_168_832 + 512 * 512 + 512 + 512 * 128 + 128);
    enc.dispose();
    const small = new Encoder({ ...PRESETS.tiny, head: 'linear', embeddingDim: 128 }, { seed: 1, bnSplits: 1 });
    const z = small.embed(tf.randomUniform([3, 32, 32, 3]), false);
    expect(z.shape).toEqual([3, 128]);
    const norms = tf.norm(z, 'euclidean', 1).dataSync();
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    small.dispose();
  });

  it('starts from the same weights for the same seed', () => {
    const a = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 128 }, { seed: 4, bnSplits: 1 });
    const b = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 128 }, { seed: 4, bnSplits: 1 });
    for (const [name, v] of a.parameters) expect(Array.from(v.dataSync())).toEqual(Array.from(b.parameters.get(name)!.dataSync()));
    a.dispose();
    b.dispose();
  });

  it('comes out of a training pass that throws midway as it went in: batch statistics freed, moving statistics untouched, the next pass a fresh twin\'s', () => {
    const arch = { ...PRESETS.tiny, head: 'mlp', embeddingDim: 128 } as const;
    const failing = new Encoder(arch, { seed: 5, bnSplits: 2 });
    const twin = new Encoder(arch, { seed: 5, bnSplits: 2 });
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const before = snapshot(failing.bnStatistics);
    // The third batch-norm layer fails (as a kernel does on a lost GPU device) after two have handed back their batch statistics.
    const handedBack: tf.Tensor[] = [];
    let layers = 0;
    splitBatchNorm.setOverride((plain, ...args) => {
      if (++layers === 3) throw new Error('the GPU device was lost');
      const out = plain(...args);
      handedBack.push(out.batchMean!, out.batchVariance!);
      return out;
    });
    try {
      expect(() => failing.forward(images, true)).toThrow('the GPU device was lost');
    } finally {
      splitBatchNorm.setOverride(undefined);
      const { on, except, include } = customKernelSettings();
      useCustomKernels(on, { except, include });
    }
    expect(handedBack).toHaveLength(4);
    expect(handedBack.filter((t) => !t.isDisposed)).toEqual([]);
    expect(snapshot(failing.bnStatistics)).toEqual(before);

    const z = failing.embed(images, true);
    const zTwin = twin.embed(images, true);
    expect(Array.from(z.dataSync())).toEqual(Array.from(zTwin.dataSync()));
    expect(snapshot(failing.bnStatistics)).toEqual(snapshot(twin.bnStatistics));
    expect(snapshot(failing.bnStatistics)).not.toEqual(before);
    tf.dispose([images, z, zTwin]);
    failing.dispose();
    twin.dispose();
  });

  it('moves its moving statistics a tenth of the way to the batch statistics in a training pass, and not in a probe', async () => {
    const enc = new Encoder({ ...PRESETS.tiny, head: 'linear', embeddingDim: 8 }, { seed: 5, bnSplits: 2 });
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    // The stem's batch-norm sees the stem convolution's output; its batch statistics (mean of the 2
    // groups' means and unbiased variances) from the plain operation, handed no moving statistics.
    const stem = tf.conv2d(images, enc.parameters.get('stem_conv/kernel') as tf.Tensor4D, 1, 'same');
    const { batchMean, batchVariance } = splitBatchNorm.plain(stem, enc.parameters.get('stem_bn/gamma') as tf.Tensor1D, enc.parameters.get('stem_bn/beta') as tf.Tensor1D, 2);
    const mean = enc.bnStatistics.get('stem_bn/moving_mean')!;
    const variance = enc.bnStatistics.get('stem_bn/moving_variance')!;
    enc.probeEmbed(images).dispose();
    expect(Array.from(await mean.data())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await variance.data())).toEqual([1, 1, 1, 1]);
    tf.tidy(() => enc.forward(images, true).projection);
    const expectedMean = Array.from(await batchMean!.data()).map((b) => 0.1 * b);
    const expectedVariance = Array.from(await batchVariance!.data()).map((b) => 0.9 + 0.1 * b);
    expect(expectedMean.some((m) => Math.abs(m) > 1e-3)).toBe(true);
    expect(relativeError(await mean.data(), expectedMean)).toBeLessThan(1e-5);
    expect(relativeError(await variance.data(), expectedVariance)).toBeLessThan(1e-5);
    tf.dispose([images, stem, batchMean!, batchVariance!]);
    enc.dispose();
  });
});

describe('shuffle BN', () => {
  it('shuffle then unshuffle restores the order of the batch', async () => {
    const x = tf.randomUniform([8, 32, 32, 3]) as tf.Tensor4D;
    const perSample = (images: tf.Tensor4D) => images.mean([1, 2]) as tf.Tensor2D;
    const perm = new Rng(3).permutation(8);
    expect(Array.from(perm)).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const shuffled = encodeShuffled(perm, (rows) => tf.gather(x, rows), (im, rows) => tf.gather(perSample(im), rows));
    expect(Array.from(await shuffled.data())).toEqual(Array.from(await perSample(x).data()));
  });

  it('changes the keys under split batch-norm, since each group now holds other images', async () => {
    const enc = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 128 }, { seed: 2, bnSplits: 4 });
    const x = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const plain = await enc.embed(x, true).data();
    const view = (rows: Int32Array) => tf.gather(x, rows);
    const shuffled = await encodeShuffled(new Rng(3).permutation(8), view, (im, rows) => enc.embed(im, true, rows)).data();
    expect(relativeError(shuffled, plain)).toBeGreaterThan(1e-3);
    // With one group, batch-norm does not care about order: the keys come back exactly.
    enc.bnSplits = 1;
    const one = await enc.embed(x, true).data();
    const oneShuffled = await encodeShuffled(new Rng(3).permutation(8), view, (im, rows) => enc.embed(im, true, rows)).data();
    expect(relativeError(oneShuffled, one)).toBeLessThan(1e-5);
    enc.dispose();
  });
});

describe('a MoCo training step', () => {
  it('changes the query encoder by SGD and moves the key encoder by θk ← m·θk + (1−m)·θq', async () => {
    const moco = new MoCo(tiny({ momentum: 0.9, schedule: { baseLr: 0.5 } }));
    const q0 = snapshot(moco.encoderQ.parameters);
    const k0 = snapshot(moco.encoderK.parameters);
    // The momentum encoder starts as a copy of the query encoder.
    for (const [name, v] of q0) expect(Array.from(k0.get(name)!)).toEqual(Array.from(v));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    await moco.step(images); // fills the queue: the first step has no negatives
    const q1 = snapshot(moco.encoderQ.parameters);
    const k1 = snapshot(moco.encoderK.parameters);
    await moco.step(images);
    const q2 = snapshot(moco.encoderQ.parameters);
    const k2 = snapshot(moco.encoderK.parameters);
    let changed = 0;
    for (const [name, after] of q2) {
      if (relativeError(after, q1.get(name)!) > 1e-4) changed++;
      const expected = k1.get(name)!.map((k, i) => 0.9 * k + 0.1 * after[i]);
      expect(relativeError(k2.get(name)!, expected)).toBeLessThan(1e-5);
    }
    // Every conv kernel, γ/β and dense weight gets a gradient.
    expect(changed).toBe(q2.size);
    moco.dispose();
  });

  it('leaves the key encoder alone at m = 1 and copies the query encoder at m = 0', async () => {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const frozen = new MoCo(tiny({ momentum: 1 }));
    const before = snapshot(frozen.encoderK.parameters);
    await frozen.step(images);
    await frozen.step(images);
    for (const [name, v] of snapshot(frozen.encoderK.parameters)) expect(Array.from(v)).toEqual(Array.from(before.get(name)!));
    frozen.dispose();

    const copy = new MoCo(tiny({ momentum: 0 }));
    await copy.step(images);
    const q = snapshot(copy.encoderQ.parameters);
    for (const [name, v] of snapshot(copy.encoderK.parameters)) expect(Array.from(v)).toEqual(Array.from(q.get(name)!));
    copy.dispose();
  });

  it('reports loss 0 and accuracy 1 while the queue is empty, then the loss against the negatives and the queue statistics', async () => {
    const moco = new MoCo(tiny({ queueSize: 20 }));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const s1 = await moco.step(images);
    expect(s1.loss).toBe(0); // a 1-way softmax
    expect(s1.contrastiveAccuracy).toBe(1);
    expect(s1.queueFilled).toBe(8);
    const s2 = await moco.step(images);
    expect(s2.loss).toBeGreaterThan(0.5);
    expect(s2.loss).toBeLessThan(40);
    expect(s2.meanKeyAge).toBe(1);
    expect(s2.queueFilled).toBe(16);
    const s3 = await moco.step(images);
    expect(s3.queueFilled).toBe(20);
    expect(s3.queueCapacity).toBe(20);
    expect(s3.meanKeyAge).toBe(1.5);
    for (const s of [s2, s3]) {
      expect(s.meanPositiveSimilarity).toBeGreaterThan(-1);
      expect(s.meanPositiveSimilarity).toBeLessThanOrEqual(1);
      expect(Math.abs(s.meanNegativeSimilarity)).toBeLessThanOrEqual(1);
    }
    moco.dispose();
  });

  it('applies new momentum, queue size, temperature and learning rate from the next step', async () => {
    const moco = new MoCo(tiny());
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    await moco.step(images);
    await moco.step(images);
    moco.setParams({ momentum: 0.5, queueSize: 12, temperature: 0.5, learningRate: 0.01 });
    expect(moco.queue.capacity).toBe(12);
    expect(moco.queue.filled).toBe(12);
    const s = await moco.step(images);
    expect([s.momentum, s.queueCapacity, s.temperature, s.learningRate]).toEqual([0.5, 12, 0.5, 0.01]);
    expect(() => moco.setParams({ momentum: 1.5 })).toThrow(/momentum/);
    expect(() => moco.setParams({ temperature: 0 })).toThrow(/temperature/);
    moco.dispose();
  });

  it('keeps its parameters and queue as they were when a new queue size cannot be allocated', async () => {
    const moco = new MoCo(tiny({ queueSize: 20 }));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    await moco.step(images);
    const params = { ...moco.params };
    const keys = moco.queue.keys.dataSync().slice();
    // The new queue's variable fails (as an allocation does when memory runs out).
    const variable = vi.spyOn(tf.engine(), 'makeVariable').mockImplementationOnce(() => {
      throw new Error('out of memory');
    });
    try {
      expect(() => moco.setParams({ momentum: 0.5, queueSize: 40 })).toThrow('out of memory');
    } finally {
      variable.mockRestore();
    }
    expect(moco.params).toEqual(params);
    expect(moco.queue.capacity).toBe(20);
    expect(moco.queue.keys.dataSync()).toEqual(keys);
    const s = await moco.step(images);
    expect([s.momentum, s.queueCapacity, s.queueFilled]).toEqual([params.momentum, 20, 16]);
    images.dispose();
    moco.dispose();
  });

  it('with the symmetric loss enqueues the keys of both views', async () => {
    const moco = new MoCo(tiny({ symmetric: true, queueSize: 64 }));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    await moco.step(images);
    const s = await moco.step(images);
    expect(s.queueFilled).toBe(32);
    expect(Number.isFinite(s.loss)).toBe(true);
    moco.dispose();
  });

  it('leaves no tensor behind when a step throws after its update (its views, keys and statistics freed), and trains on after', async () => {
    const moco = new MoCo(tiny({ symmetric: true, queueSize: 64 }));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    // The first step makes what a run keeps (velocities, the augmentation's constants, the consistency probe).
    await moco.step(images);
    const held = tf.memory().numTensors;
    // The queue's write fails (as a kernel does on a lost GPU device) once the views, the keys, the
    // loss's statistics and the key encoder's lag exist. (A throw inside the gradient pass itself:
    // gradientFault.test.ts.)
    writeRing.setOverride(() => {
      throw new Error('the GPU device was lost');
    });
    try {
      await expect(moco.step(images)).rejects.toThrow('the GPU device was lost');
    } finally {
      writeRing.setOverride(undefined);
      const { on, except, include } = customKernelSettings();
      useCustomKernels(on, { except, include });
    }
    expect(tf.memory().numTensors).toBe(held);
    const s = await moco.step(images);
    expect(Number.isFinite(s.loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(held);
    images.dispose();
    moco.dispose();
  });
});

describe('what a MoCo owns', () => {
  it('refuses a batch it cannot train on before any work, naming the shape it takes and the fix', async () => {
    const moco = new MoCo(tiny({ bnSplits: 4 }));
    const held = tf.memory().numTensors;
    const refused = async (shape: number[]) => {
      // Whatever a user's code hands over, typed or not.
      const images: tf.Tensor = tf.zeros(shape);
      try {
        await moco.step(images as tf.Tensor4D);
        return 'trained';
      } catch (e) {
        return (e as Error).message;
      } finally {
        images.dispose();
      }
    };
    expect(await refused([8, 32, 32, 1])).toBe(
      'MoCo.step takes a batch of RGB images [N, 32, 32, 3] with values in [0, 1], got a tensor of shape [8,32,32,1]: resize the images to 32×32 (tf.image.resizeBilinear) and stack them into one 4-D tensor',
    );
    expect(await refused([32, 32, 3])).toMatch(/^MoCo.step takes a batch of RGB images \[N, 32, 32, 3\].*got a tensor of shape \[32,32,3\]/);
    expect(await refused([8, 28, 28, 3])).toMatch(/got a tensor of shape \[8,28,28,3\]: resize the images to 32×32/);
    expect(await refused([6, 32, 32, 3])).toBe(
      'MoCo.step: a batch of 6 images does not split into the 4 batch-norm groups of this MoCo (config.bnSplits): give it a multiple of 4 images, or make the MoCo with mocoConfig(…, { batchSize: 6 }), which picks groups that divide it',
    );
    expect(moco.stepCount).toBe(0);
    expect(tf.memory().numTensors).toBe(held);
    // Any multiple of the groups trains, not only config.batchSize.
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const s = await moco.step(images);
    expect([s.step, s.queueFilled]).toEqual([1, 4]);
    images.dispose();
    moco.dispose();
  });

  it('holds a constant number of tensors from step to step (probes and new m and K included) and frees them all on dispose()', async () => {
    const before = tf.memory().numTensors;
    const moco = new MoCo(tiny({ queueSize: 16 }));
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const live: number[] = [];
    // Steps 1 and 5 probe the key encoder's consistency; the queue is full from step 2.
    for (let i = 0; i < 6; i++) {
      await moco.step(images);
      live.push(tf.memory().numTensors);
    }
    expect(new Set(live.slice(1)).size).toBe(1);
    moco.setParams({ momentum: 0.5, queueSize: 24 });
    for (let i = 0; i < 2; i++) await moco.step(images);
    // Full again (8 kept, 16 written): the same tensors as before the change, the queue's mask at its new size.
    expect(tf.memory().numTensors).toBe(live[5]);
    images.dispose();
    moco.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('training end to end', () => {
  it('runs steps on the built-in data with a finite loss and a constant number of live tensors', async () => {
    const ds = generateSynthetic({ size: 64, seed: 1 });
    const trainer = new Trainer(tiny({ queueSize: 24 }), ds);
    const live: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await trainer.step();
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.imagesSeen).toBe(8 * (i + 1));
      expect(s.epoch).toBeCloseTo((8 * (i + 1)) / 64, 6);
      live.push(s.liveTensors);
    }
    // The queue's empty-slot mask is rebuilt while it fills (steps 1–3), then nothing changes.
    expect(new Set(live.slice(2)).size).toBe(1);
    trainer.dispose();
  });

  it('learns: on a fixed batch the contrastive loss falls over a few steps', async () => {
    const ds = generateSynthetic({ size: 16, seed: 2 });
    const moco = new MoCo(tiny({ batchSize: 16, queueSize: 48, bnSplits: 2, schedule: { baseLr: 0.3 }, seed: 3 }));
    const images = imagesTensor(ds, Array.from({ length: 16 }, (_, i) => i));
    const losses: number[] = [];
    for (let i = 0; i < 12; i++) losses.push((await moco.step(images)).loss);
    const early = (losses[3] + losses[4] + losses[5]) / 3;
    const late = (losses[9] + losses[10] + losses[11]) / 3;
    expect(late).toBeLessThan(early);
    moco.dispose();
  });
});

describe('a step that throws', () => {
  const outOfMemory = () => {
    throw new Error('out of GPU memory');
  };
  // Where a step can fail, and what of a clean run's next steps the retried ones equal exactly. A
  // failure puts back the CPU's state only: the moving statistics that the encoders' passes updated
  // stay (they do not enter training, which normalises by the batch, so the losses and parameters
  // still match: 'training'); queue rows already written change the retried loss ('none').
  const failures: [string, 'all' | 'training' | 'none', (t: Trainer) => void][] = [
    ['the key encoder\'s first pass', 'all', (t) => vi.spyOn(t.moco.encoderK, 'embed').mockImplementationOnce(outOfMemory)],
    ['the query encoder\'s pass', 'training', (t) => vi.spyOn(t.moco.encoderQ, 'forward').mockImplementationOnce(outOfMemory)],
    ['the queue write', 'training', (t) => vi.spyOn(t.moco.queue, 'enqueue').mockImplementationOnce(outOfMemory)],
    // The second of the symmetric loss's two writes, after the first went in.
    ['the second queue write', 'none', (t) => {
      const enqueue = t.moco.queue.enqueue.bind(t.moco.queue);
      vi.spyOn(t.moco.queue, 'enqueue').mockImplementationOnce(enqueue).mockImplementationOnce(outOfMemory);
    }],
    ['the SGD update', 'none', (t) => vi.spyOn((t.moco as unknown as { optimizer: { applyGradients: () => void } }).optimizer, 'applyGradients').mockImplementationOnce(outOfMemory)],
  ];

  it.each(failures)('in %s gives the same batch and step again and training goes on (equal to a clean run: %s)', async (_, exact, fail) => {
    const ds = generateSynthetic({ size: 64, seed: 4 });
    const config = tiny({ queueSize: 12, symmetric: true, seed: 6 });
    const failing = new Trainer(config, ds);
    const clean = new Trainer(config, ds);
    for (const t of [failing, clean]) await t.step();
    const views = failing.moco.lastViewDraws;
    const batch = failing.lastBatch;
    const position = failing.moco.queue.position;
    const tensors = tf.memory().numTensors;

    fail(failing);
    await expect(failing.step()).rejects.toThrow('out of GPU memory');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(failing.moco.stepCount).toBe(1);
    expect(failing.moco.lastViewDraws).toBe(views);
    expect(failing.lastBatch).toBe(batch);
    expect(failing.moco.queue.position).toEqual(position);
    // After one symmetric step (two writes of 8 keys) the 12-slot queue is full and writes next at slot 4.
    expect(position).toEqual({ pointer: 4, filled: 12 });

    for (let i = 0; i < 2; i++) {
      const [a, b] = [await failing.step(), await clean.step()];
      expect(a.step).toBe(i + 2);
      expect(failing.lastBatch).toEqual(clean.lastBatch);
      expect(Number.isFinite(a.loss)).toBe(true);
      expect(a.queueFilled).toBe(b.queueFilled);
      if (exact !== 'none') expect(a.loss).toBe(b.loss);
    }
    const flat = (vs: Iterable<tf.Variable>) => tf.tidy(() => tf.concat([...vs].map((v) => v.reshape([-1]))).dataSync());
    const weights = (t: Trainer) => flat([...t.moco.encoderQ.parameters.values(), ...t.moco.encoderK.parameters.values()]);
    const moving = (t: Trainer) => flat([...t.moco.encoderQ.bnStatistics.values(), ...t.moco.encoderK.bnStatistics.values()]);
    if (exact === 'none') expect(weights(failing)).not.toEqual(weights(clean));
    else expect(weights(failing)).toEqual(weights(clean));
    if (exact === 'all') expect(moving(failing)).toEqual(moving(clean));
    else expect(moving(failing)).not.toEqual(moving(clean));
    failing.dispose();
    clean.dispose();
  });
});
