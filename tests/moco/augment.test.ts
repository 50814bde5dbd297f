import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { imagesTensor } from '../../src/data/tensors';
import { applyAugment, Augmentation, GRAY, identityAugmentParams, MOCO_V2_AUGMENT, sampleAugmentParams, twoViews, type AugmentParams } from '../../src/moco/augment';
import { Rng } from '../../src/util/random';
import { useCpuBackend } from '../support/helpers';

const cfg = MOCO_V2_AUGMENT;
let images: tf.Tensor4D;
let augmentation: Augmentation;

beforeAll(async () => {
  await useCpuBackend();
  const ds = generateSynthetic({ size: 8, seed: 3 });
  images = imagesTensor(ds, [0, 1, 2, 3, 4, 5, 6, 7]);
  augmentation = new Augmentation(cfg);
});

/** Parameters that change nothing but what the test sets. */
function identity(n: number, change: Partial<AugmentParams> = {}): AugmentParams {
  return { ...identityAugmentParams(n), ...change };
}

/** Back from normalised values to [0, 1]. */
function unnormalise(x: tf.Tensor4D): tf.Tensor4D {
  return x.mul(tf.tensor1d([...cfg.std])).add(tf.tensor1d([...cfg.mean]));
}

describe('augmentations', () => {
  it('with identity parameters only normalises the images', async () => {
    const out = unnormalise(applyAugment(images, identity(8), augmentation));
    expect(out.shape).toEqual([8, 32, 32, 3]);
    expect(tf.max(tf.abs(out.sub(images))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('flips exactly: the view of a flipped image is the mirror of the unflipped one', async () => {
    const flip = new Uint8Array([1, 0, 1, 0, 0, 0, 0, 1]);
    const flipped = applyAugment(images, identity(8, { flip }), augmentation);
    const plain = applyAugment(images, identity(8), augmentation);
    const a = await flipped.array();
    const b = await tf.reverse(plain, 2).array();
    const c = await plain.array();
    for (let i = 0; i < 8; i++) expect(a[i]).toEqual(flip[i] ? b[i] : c[i]);
    expect(a[0]).not.toEqual(c[0]);
  });

  it('makes gray images when asked, with all three channels equal', async () => {
    const grayscale = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 1]);
    const out = await unnormalise(applyAugment(images, identity(8, { grayscale }), augmentation)).array();
    for (const row of out[0]) for (const [r, g, b] of row) expect(Math.max(Math.abs(r - g), Math.abs(g - b))).toBeLessThan(1e-5);
  });

  it('keeps values in range: [0, 1] before normalisation, for random parameters', async () => {
    const [v1, v2] = twoViews(images, augmentation, new Rng(5));
    for (const v of [v1, v2]) {
      const raw = unnormalise(v);
      expect(v.shape).toEqual([8, 32, 32, 3]);
      expect(raw.min().dataSync()[0]).toBeGreaterThanOrEqual(-1e-5);
      expect(raw.max().dataSync()[0]).toBeLessThanOrEqual(1 + 1e-5);
      expect(Number.isFinite(v.sum().dataSync()[0])).toBe(true);
    }
  });

  it('gives the same views for the same seed and different views for another seed or the other view', async () => {
    const [a1, a2] = twoViews(images, augmentation, new Rng(11));
    const [b1, b2] = twoViews(images, augmentation, new Rng(11));
    const [c1] = twoViews(images, augmentation, new Rng(12));
    expect(Array.from(await a1.data())).toEqual(Array.from(await b1.data()));
    expect(Array.from(await a2.data())).toEqual(Array.from(await b2.data()));
    expect(tf.max(tf.abs(a1.sub(c1))).dataSync()[0]).toBeGreaterThan(0.1);
    expect(tf.max(tf.abs(a1.sub(a2))).dataSync()[0]).toBeGreaterThan(0.1);
  });

  it('draws crops of 20–100% of the image and applies jitter, grayscale and blur at about their rates', () => {
    const n = 4000;
    const p = sampleAugmentParams(n, cfg, new Rng(7));
    let jittered = 0;
    let gray = 0;
    let blurred = 0;
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const [y1, x1, y2, x2] = p.boxes.subarray(4 * i, 4 * i + 4);
      const area = ((y2 - y1) * 31 + 1) * ((x2 - x1) * 31 + 1);
      expect(area / 1024).toBeGreaterThan(0.18); // rounding of the sides
      expect(area / 1024).toBeLessThanOrEqual(1);
      if (p.brightness[i] !== 1) jittered++;
      gray += p.grayscale[i];
      flipped += p.flip[i];
      if (p.blurSide[i] > 0) blurred++;
    }
    expect(jittered / n).toBeCloseTo(0.8, 1);
    expect(gray / n).toBeCloseTo(0.2, 1);
    expect(flipped / n).toBeCloseTo(0.5, 1);
    expect(blurred / n).toBeCloseTo(0.5, 1);
  });

  it('blurs: a blurred image has less high-frequency energy than the sharp one', async () => {
    const blurSide = new Float32Array(8).fill(0.3);
    const sharp = applyAugment(images, identity(8), augmentation);
    const blurred = applyAugment(images, identity(8, { blurSide }), augmentation);
    const energy = (x: tf.Tensor4D) => x.slice([0, 0, 1, 0], [-1, -1, 31, -1]).sub(x.slice([0, 0, 0, 0], [-1, -1, 31, -1])).square().mean().dataSync()[0];
    expect(energy(blurred)).toBeLessThan(0.5 * energy(sharp));
  });
});

describe('the augmentation constants', () => {
  /** The tensors made from values while `run` runs (tf.tensor, tf.scalar, tf.range, a number given to an op): what goes up to the backend. */
  function uploads(run: () => void): number[][] {
    const engine = tf.engine();
    const makeTensor = engine.makeTensor.bind(engine);
    const seen: number[][] = [];
    engine.makeTensor = (values, shape, dtype, backend) => {
      seen.push(Array.from(values as ArrayLike<number>));
      return makeTensor(values, shape, dtype, backend);
    };
    try {
      run();
    } finally {
      engine.makeTensor = makeTensor;
    }
    return seen;
  }

  it('go up once per augmentation: later views upload only their draws, hold no more tensors, and are bitwise those of a fresh augmentation', async () => {
    const n = 8;
    const rng = new Rng(21);
    const draws = [0, 1, 2, 3].map(() => sampleAugmentParams(n, cfg, rng));
    const rows = Int32Array.from([3, 0, 7, 2, 2, 5, 1, 6]);
    const before = tf.memory().numTensors;
    const own = new Augmentation(cfg);
    const view = (d: AugmentParams, by: Augmentation, r?: Int32Array) => {
      const x = applyAugment(images, d, by, r);
      const values = x.dataSync().slice();
      x.dispose();
      return values;
    };
    // The first view makes the constants: mean, std, gray weights, the image indices 0…7, the blur's 1 and 2.
    const first = uploads(() => view(draws[0], own));
    const held = tf.memory().numTensors;
    expect(held - before).toBe(6);
    expect(first).toContainEqual([...cfg.mean].map(Math.fround));
    expect(first).toContainEqual([...cfg.std].map(Math.fround));
    expect(first).toContainEqual(GRAY.map(Math.fround));

    for (const d of draws.slice(1)) {
      // The boxes (4 per image), flip, brightness, contrast, saturation, hue matrices (9 per image), grayscale, blur weight.
      const later = uploads(() => view(d, own));
      expect(later.map((v) => v.length).sort((a, b) => a - b)).toEqual([n, n, n, n, n, n, 4 * n, 9 * n]);
      expect(tf.memory().numTensors).toBe(held);
      // With a view order (shuffle BN's key batch): the rows as well.
      const shuffled = uploads(() => view(d, own, rows));
      expect(shuffled).toHaveLength(9);
      expect(shuffled).toContainEqual(Array.from(rows));
      expect(tf.memory().numTensors).toBe(held);
    }

    // The same numbers as an augmentation used for the first time.
    for (const d of draws) {
      const fresh = new Augmentation(cfg);
      expect(view(d, own)).toEqual(view(d, fresh));
      expect(view(d, own, rows)).toEqual(view(d, fresh, rows));
      fresh.dispose();
    }
    own.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => applyAugment(images, draws[0], own)).toThrow(/used after dispose/);
  });
});
