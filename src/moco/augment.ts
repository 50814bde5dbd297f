import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';
import { IMAGE_SIZE } from '../util/imageShape';
import type { Rng } from '../util/random';

/**
 * MoCo's data augmentation, run on the backend for a whole batch at once. Only the random
 * parameters (a few numbers per image) are drawn on the CPU, from a seeded generator; pixels never
 * leave the device.
 */
export interface AugmentConfig {
  /** Random resized crop: area fraction and aspect-ratio ranges (torchvision's RandomResizedCrop). */
  cropScale: readonly [number, number];
  cropRatio: readonly [number, number];
  flipProbability: number;
  /** Colour jitter strengths (torchvision's ColorJitter), applied with `jitterProbability`. */
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  jitterProbability: number;
  grayscaleProbability: number;
  /** Gaussian blur (MoCo v2), σ range in pixels, 3-tap kernel at 32×32. */
  blurProbability: number;
  blurSigma: readonly [number, number];
  /** Per-channel normalisation applied last. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The official MoCo CIFAR-10 demo's normalisation. */
const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
const CIFAR_STD = [0.2023, 0.1994, 0.201] as const;

export const MOCO_V1_AUGMENT: AugmentConfig = {
  cropScale: [0.2, 1],
  cropRatio: [3 / 4, 4 / 3],
  flipProbability: 0.5,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  hue: 0.1,
  jitterProbability: 0.8,
  grayscaleProbability: 0.2,
  blurProbability: 0,
  blurSigma: [0.1, 2],
  mean: CIFAR_MEAN,
  std: CIFAR_STD,
};

export const MOCO_V2_AUGMENT: AugmentConfig = { ...MOCO_V1_AUGMENT, blurProbability: 0.5 };

/** The random choices for one batch, as flat per-image arrays. */
export interface AugmentParams {
  /** [y1, x1, y2, x2] per image, normalised for tf.image.cropAndResize. */
  boxes: Float32Array;
  flip: Uint8Array;
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  /** Hue rotation as a fraction of a full turn. */
  hue: Float32Array;
  grayscale: Uint8Array;
  /** Weight of each side tap of the 3-tap blur (0 = no blur). */
  blurSide: Float32Array;
}

/** Parameters that leave every image as it is (whole-image crop, no flip, jitter, gray or blur). */
export function identityAugmentParams(n: number): AugmentParams {
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) boxes.set([0, 0, 1, 1], 4 * i);
  return {
    boxes,
    flip: new Uint8Array(n),
    brightness: new Float32Array(n).fill(1),
    contrast: new Float32Array(n).fill(1),
    saturation: new Float32Array(n).fill(1),
    hue: new Float32Array(n),
    grayscale: new Uint8Array(n),
    blurSide: new Float32Array(n),
  };
}

export function sampleAugmentParams(n: number, cfg: AugmentConfig, rng: Rng, size = IMAGE_SIZE): AugmentParams {
  const p = identityAugmentParams(n);
  for (let i = 0; i < n; i++) {
    const [top, left, h, w] = randomResizedCrop(size, size, cfg, rng);
    p.boxes.set([top / (size - 1), left / (size - 1), (top + h - 1) / (size - 1), (left + w - 1) / (size - 1)], 4 * i);
    p.flip[i] = rng.bernoulli(cfg.flipProbability) ? 1 : 0;
    if (rng.bernoulli(cfg.jitterProbability)) {
      p.brightness[i] = rng.uniform(Math.max(0, 1 - cfg.brightness), 1 + cfg.brightness);
      p.contrast[i] = rng.uniform(Math.max(0, 1 - cfg.contrast), 1 + cfg.contrast);
      p.saturation[i] = rng.uniform(Math.max(0, 1 - cfg.saturation), 1 + cfg.saturation);
      p.hue[i] = rng.uniform(-cfg.hue, cfg.hue);
    }
    p.grayscale[i] = rng.bernoulli(cfg.grayscaleProbability) ? 1 : 0;
    if (rng.bernoulli(cfg.blurProbability)) {
      const sigma = rng.uniform(cfg.blurSigma[0], cfg.blurSigma[1]);
      const side = Math.exp(-1 / (2 * sigma * sigma));
      p.blurSide[i] = side / (1 + 2 * side);
    }
  }
  return p;
}

/** torchvision's RandomResizedCrop.get_params: [top, left, height, width] in pixels. */
function randomResizedCrop(height: number, width: number, cfg: AugmentConfig, rng: Rng): [number, number, number, number] {
  const area = height * width;
  const [logLo, logHi] = [Math.log(cfg.cropRatio[0]), Math.log(cfg.cropRatio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(cfg.cropScale[0], cfg.cropScale[1]);
    const ratio = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return [rng.int(height - h + 1), rng.int(width - w + 1), h, w];
    }
  }
  return [0, 0, height, width];
}

export const GRAY = [0.299, 0.587, 0.114];

/**
 * Constant tensors made on first use and kept (also when first used inside a `tf.tidy`) until
 * `dispose()`: what every view of every step would otherwise upload again.
 */
class Constants {
  private readonly made = new Map<string, tf.Tensor>();
  private disposed = false;

  get<T extends tf.Tensor>(key: string, make: () => T): T {
    if (this.disposed) throw new Error(`augmentation constant ${key} used after dispose()`);
    let t = this.made.get(key);
    if (!t) {
      t = tf.keep(make());
      this.made.set(key, t);
    }
    return t as T;
  }

  dispose(): void {
    this.disposed = true;
    tf.dispose([...this.made.values()]);
    this.made.clear();
  }
}

/** A per-channel normalisation: each channel's mean and standard deviation. */
export type ChannelStats = { readonly mean: readonly number[]; readonly std: readonly number[] };

/**
 * Images in [0, 1] shifted and scaled per channel as the encoder reads them (the end of every view,
 * augmented or not), with `mean` and `std` uploaded once; the owner frees them with `dispose()`.
 */
export class Normalizer {
  private readonly constants = new Constants();

  constructor(private readonly stats: ChannelStats) {}

  normalize(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const mean = this.constants.get('mean', () => tf.tensor1d([...this.stats.mean]));
      const std = this.constants.get('std', () => tf.tensor1d([...this.stats.std]));
      return images.sub(mean).div(std);
    });
  }

  dispose(): void {
    this.constants.dispose();
  }
}

/** One normalisation on its own (a test transform, a check): its constants made and freed with it. */
export function normalizeImages(images: tf.Tensor4D, stats: ChannelStats): tf.Tensor4D {
  const normalizer = new Normalizer(stats);
  try {
    return normalizer.normalize(images);
  } finally {
    normalizer.dispose();
  }
}

/**
 * MoCo's augmentation of one configuration: the settings, and the constant tensors every view
 * shares (the normalisation, the gray weights, a batch's image indices), made once. The owner (a
 * MoCo, an evaluation) frees them with `dispose()`.
 */
export class Augmentation {
  readonly normalizer: Normalizer;
  private readonly constants = new Constants();

  constructor(readonly config: AugmentConfig) {
    this.normalizer = new Normalizer(config);
  }

  /** The luma weights, `[3]`. */
  gray(): tf.Tensor1D {
    return this.constants.get('gray', () => tf.tensor1d(GRAY));
  }

  /** 0, 1, …, n − 1 (int32): each view reads its own image. */
  imageIndices(n: number): tf.Tensor1D {
    return this.constants.get(`range ${n}`, () => tf.range(0, n, 1, 'int32'));
  }

  /** A number as a scalar tensor (the blur's weights). */
  scalar(value: number): tf.Scalar {
    return this.constants.get(`scalar ${value}`, () => tf.scalar(value));
  }

  dispose(): void {
    this.normalizer.dispose();
    this.constants.dispose();
  }
}

/** The draws of images `rows[0]`, `rows[1]`, … in that order (plain numbers: no tensor work). */
export function selectDraws(p: AugmentParams, rows: Int32Array): AugmentParams {
  const pick = <A extends Float32Array | Uint8Array>(values: A, each: number): A => {
    const out = new (values.constructor as new (n: number) => A)(rows.length * each);
    rows.forEach((r, i) => out.set(values.subarray(r * each, (r + 1) * each), i * each));
    return out;
  };
  return {
    boxes: pick(p.boxes, 4),
    flip: pick(p.flip, 1),
    brightness: pick(p.brightness, 1),
    contrast: pick(p.contrast, 1),
    saturation: pick(p.saturation, 1),
    hue: pick(p.hue, 1),
    grayscale: pick(p.grayscale, 1),
    blurSide: pick(p.blurSide, 1),
  };
}

/**
 * Applies the sampled augmentation to images in [0, 1] (`[N, H, W, 3]`) and normalises them. With
 * `rows`, view i is image rows[i] with its draws (`gather(applyAugment(images, p, augmentation), rows)`, the
 * images read in that order rather than gathered: MoCo's key batch, shuffled as it is made).
 */
export const applyAugment = overridable('applyAugment', (images: tf.Tensor4D, draws: AugmentParams, augmentation: Augmentation, rows?: Int32Array): tf.Tensor4D =>
  tf.tidy(() => {
    const [, h, w] = images.shape;
    const p = rows ? selectDraws(draws, rows) : draws;
    const n = rows ? rows.length : images.shape[0];
    const source = rows ? tf.tensor1d(rows, 'int32') : augmentation.imageIndices(n);
    const perImage = (values: ArrayLike<number>) => tf.tensor4d(Float32Array.from(values), [n, 1, 1, 1]);
    const clip = (x: tf.Tensor): tf.Tensor4D => x.clipByValue(0, 1) as tf.Tensor4D;
    const gray = (x: tf.Tensor4D) => tf.sum(x.mul(augmentation.gray()), 3, true) as tf.Tensor4D;

    let x: tf.Tensor4D = tf.image.cropAndResize(images, tf.tensor2d(p.boxes, [n, 4]), source as tf.Tensor1D, [h, w], 'bilinear');
    x = tf.where(perImage(p.flip).cast('bool'), tf.reverse(x, 2), x) as tf.Tensor4D;

    // Colour jitter in a fixed order (torchvision draws the order at random).
    x = clip(x.mul(perImage(p.brightness)));
    const meanGray = gray(x).mean([1, 2], true);
    x = clip(x.sub(meanGray).mul(perImage(p.contrast)).add(meanGray));
    const g = gray(x);
    x = clip(x.sub(g).mul(perImage(p.saturation)).add(g));
    x = clip(rotateHue(x, p.hue));

    x = tf.where(perImage(p.grayscale).cast('bool'), tf.tile(gray(x), [1, 1, 1, 3]), x) as tf.Tensor4D;
    x = blur3(x, perImage(p.blurSide), augmentation);
    return augmentation.normalizer.normalize(x);
  }),
);

/** Hue rotation about the gray axis in YIQ space, one 3×3 colour matrix per image. */
function rotateHue(x: tf.Tensor4D, turns: Float32Array): tf.Tensor4D {
  const [n, h, w] = x.shape;
  return tf.matMul(x.reshape([n, h * w, 3]), tf.tensor3d(hueMatrices(turns), [n, 3, 3])).reshape([n, h, w, 3]);
}

/** The colour matrices of `rotateHue`, 9 numbers per image, transposed: rgb' = rgb · matrix. */
export function hueMatrices(turns: Float32Array): Float32Array {
  const n = turns.length;
  const toYiq = [
    [0.299, 0.587, 0.114],
    [0.596, -0.274, -0.322],
    [0.211, -0.523, 0.312],
  ];
  // The exact inverse, so that a rotation by 0 is the identity to float precision.
  const toRgb = inverse3(toYiq);
  const matrices = new Float32Array(9 * n);
  for (let i = 0; i < n; i++) {
    const c = Math.cos(2 * Math.PI * turns[i]);
    const s = Math.sin(2 * Math.PI * turns[i]);
    const rot = [
      [1, 0, 0],
      [0, c, -s],
      [0, s, c],
    ];
    const m = matMul3(toRgb, matMul3(rot, toYiq));
    // Stored transposed: pixels are row vectors, rgb' = rgb · Mᵀ.
    for (let r = 0; r < 3; r++) for (let col = 0; col < 3; col++) matrices[9 * i + 3 * r + col] = m[col][r];
  }
  return matrices;
}

function inverse3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

function matMul3(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
}

/** Separable 3-tap blur with a per-image side weight (centre weight 1 − 2·side), edges reflected. */
function blur3(x: tf.Tensor4D, side: tf.Tensor4D, constants: Augmentation): tf.Tensor4D {
  const centre = constants.scalar(1).sub(side.mul(constants.scalar(2)));
  const [, h, w] = x.shape;
  const padded = tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], 'reflect');
  const rows = padded.slice([0, 0, 0, 0], [-1, -1, w, -1]).add(padded.slice([0, 0, 2, 0], [-1, -1, w, -1]));
  const horizontal = padded.slice([0, 0, 1, 0], [-1, -1, w, -1]).mul(centre).add(rows.mul(side));
  const cols = horizontal.slice([0, 0, 0, 0], [-1, h, -1, -1]).add(horizontal.slice([0, 2, 0, 0], [-1, h, -1, -1]));
  return horizontal.slice([0, 1, 0, 0], [-1, h, -1, -1]).mul(centre).add(cols.mul(side)) as tf.Tensor4D;
}

/** Two independently augmented views of the same batch, as MoCo needs for queries and keys. */
export function twoViews(images: tf.Tensor4D, augmentation: Augmentation, rng: Rng): [tf.Tensor4D, tf.Tensor4D] {
  const n = images.shape[0];
  const { config } = augmentation;
  return [applyAugment(images, sampleAugmentParams(n, config, rng), augmentation), applyAugment(images, sampleAugmentParams(n, config, rng), augmentation)];
}
