import * as tf from '@tensorflow/tfjs';
import { applyAugment, Augmentation, GRAY, hueMatrices, MOCO_V1_AUGMENT, MOCO_V2_AUGMENT, sampleAugmentParams, type AugmentConfig, type AugmentParams } from '../../moco/augment';
import { Rng } from '../../util/random';
import { attach, kernelFunc, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram, workgroupReduction } from './program';

const MEAN_GRAY = 'MocoAugmentMeanGray';
const AUGMENT = 'MocoAugment';

/** Per view: box (4), flip, brightness, contrast, saturation, hue matrix (9, rgb' = rgb·M), grayscale, blur side weight, source image. */
const PARAMS = 20;

/** View i's row: the draws of its source image `rows[i]` (image i without `rows`), read where they are (no reordered copy), and that image's index. */
function packParams(p: AugmentParams, hue: Float32Array, views: number, rows?: Int32Array): Float32Array {
  const out = new Float32Array(views * PARAMS);
  for (let i = 0; i < views; i++) {
    const o = i * PARAMS;
    const r = rows ? rows[i] : i;
    out.set(p.boxes.subarray(4 * r, 4 * r + 4), o);
    out[o + 4] = p.flip[r];
    out[o + 5] = p.brightness[r];
    out[o + 6] = p.contrast[r];
    out[o + 7] = p.saturation[r];
    out.set(hue.subarray(9 * r, 9 * r + 9), o + 8);
    out[o + 17] = p.grayscale[r];
    out[o + 18] = p.blurSide[r];
    out[o + 19] = r;
  }
  return out;
}

interface AugmentAttrs {
  gray: number[];
  mean: number[];
  std: number[];
}

/** The views made: one per row of params. */
function uniforms(images: tf.TensorInfo, params: tf.TensorInfo, attrs: AugmentAttrs) {
  const [, h, w] = images.shape;
  const vector = (name: string, values: number[]) => Object.fromEntries(values.map((v, i) => [`${name}${i}`, f32(v)]));
  return { views: i32(params.shape[0]), height: i32(h), width: i32(w), ...vector('gray', attrs.gray), ...vector('mean', attrs.mean), ...vector('std', attrs.std) };
}

/** The colour pipeline up to brightness (`bright`), and all of it (`colour`), at one output pixel. */
const pipeline = `
  fn P(b : i32, k : i32) -> f32 { return params[b * ${PARAMS} + k]; }
  // Pixel (y, x) of view b's source image.
  fn img(b : i32, y : i32, x : i32) -> vec3<f32> {
    let o = ((i32(P(b, 19)) * u.height + y) * u.width + x) * 3;
    return vec3<f32>(images[o], images[o + 1], images[o + 2]);
  }
  // tf.image.cropAndResize, bilinear, extrapolation value 0 (as tfjs-webgpu's kernel computes it).
  fn crop(b : i32, y : i32, x : i32) -> vec3<f32> {
    let hIn = f32(u.height - 1);
    let wIn = f32(u.width - 1);
    let inY = P(b, 0) * hIn + f32(y) * ((P(b, 2) - P(b, 0)) * (hIn / f32(u.height - 1)));
    let inX = P(b, 1) * wIn + f32(x) * ((P(b, 3) - P(b, 1)) * (wIn / f32(u.width - 1)));
    if (inY < 0.0 || inY > hIn || inX < 0.0 || inX > wIn) { return vec3<f32>(0.0); }
    let f = vec2<i32>(i32(inX), i32(inY));
    let c = vec2<i32>(ceil(vec2<f32>(inX, inY)));
    let frac = vec2<f32>(inX, inY) - vec2<f32>(f);
    let topLeft = img(b, f.y, f.x);
    let topRight = img(b, f.y, c.x);
    let bottomLeft = img(b, c.y, f.x);
    let bottomRight = img(b, c.y, c.x);
    let top = topLeft + (topRight - topLeft) * frac.x;
    let bottom = bottomLeft + (bottomRight - bottomLeft) * frac.x;
    return top + (bottom - top) * frac.y;
  }
  fn grayOf(c : vec3<f32>) -> f32 { return c.x * u.gray0 + c.y * u.gray1 + c.z * u.gray2; }
  fn bright(b : i32, y : i32, x : i32) -> vec3<f32> {
    let xs = select(x, u.width - 1 - x, P(b, 4) != 0.0);
    return clamp(crop(b, y, xs) * P(b, 5), vec3<f32>(0.0), vec3<f32>(1.0));
  }
  fn colour(b : i32, y : i32, x : i32, meanGray : f32) -> vec3<f32> {
    var c = bright(b, y, x);
    c = clamp((c - meanGray) * P(b, 6) + meanGray, vec3<f32>(0.0), vec3<f32>(1.0));
    let g = grayOf(c);
    c = clamp((c - g) * P(b, 7) + g, vec3<f32>(0.0), vec3<f32>(1.0));
    c = vec3<f32>(
      c.x * P(b, 8) + c.y * P(b, 11) + c.z * P(b, 14),
      c.x * P(b, 9) + c.y * P(b, 12) + c.z * P(b, 15),
      c.x * P(b, 10) + c.y * P(b, 13) + c.z * P(b, 16));
    c = clamp(c, vec3<f32>(0.0), vec3<f32>(1.0));
    if (P(b, 17) != 0.0) { c = vec3<f32>(grayOf(c)); }
    return c;
  }
  // Reflect padding, as tf.mirrorPad(…, 'reflect').
  fn reflect(i : i32, n : i32) -> i32 { return select(select(i, 2 * n - 2 - i, i >= n), -i, i < 0); }`;

/** images [N, H, W, 3], params [V, 20] → mean gray level after brightness, per view [V]. */
const meanGrayKernel = kernelFunc<'images' | 'params', AugmentAttrs>(['images', 'params'], ({ images, params }, a, backend) =>
  runProgram(backend, {
    name: MEAN_GRAY,
    inputs: { images, params },
    outputs: { meanGray: [params.shape[0]] },
    uniforms: uniforms(images, params, a),
    dispatch: [params.shape[0], 1, 1],
    declarations: () => `${workgroupReduction()}\n${pipeline}`,
    body: () => `
      let b = i32(wid.x);
      let pixels = u.height * u.width;
      var s = 0.0;
      for (var p = i32(lidx); p < pixels; p += 256) {
        let y = p / u.width;
        s += grayOf(bright(b, y, p - y * u.width));
      }
      let total = reduceSum(s, lidx);
      if (lidx == 0u) { meanGray[b] = total / f32(pixels); }`,
  }),
);

/** images [N, H, W, 3], params [V, 20], meanGray [V] → the augmented, normalised views [V, H, W, 3]. */
const augmentKernel = kernelFunc<'images' | 'params' | 'meanGray', AugmentAttrs>(['images', 'params', 'meanGray'], ({ images, params, meanGray }, a, backend) => {
  const [, h, w, c] = images.shape;
  const views = params.shape[0];
  return runProgram(backend, {
    name: AUGMENT,
    inputs: { images, params, meanGray },
    outputs: { result: [views, h, w, c] },
    uniforms: uniforms(images, params, a),
    dispatch: gridStride(views * h * w),
    declarations: () => pipeline,
    body: () => `
      ${gridStrideLoop('u.views * u.height * u.width', 'i')} {
        let b = i / (u.height * u.width);
        let p = i - b * u.height * u.width;
        let y = p / u.width;
        let x = p - y * u.width;
        let mg = meanGray[b];
        // Separable 3-tap blur, edges reflected, in tfjs's order: along rows, then columns. Unblurred
        // images (side weight 0) only need their own pixel: the others stay 0 and weigh 0. One call
        // site of colour() keeps the shader small (SwiftShader compiles it in seconds, not a minute).
        let side = P(b, 18);
        let centre = 1.0 - side * 2.0;
        let reach = select(0, 1, side != 0.0);
        var rows : array<vec3<f32>, 3>;
        for (var r = 1 - reach; r <= 1 + reach; r++) {
          var taps : array<vec3<f32>, 3>;
          for (var q = 1 - reach; q <= 1 + reach; q++) {
            taps[q] = colour(b, reflect(y + r - 1, u.height), reflect(x + q - 1, u.width), mg);
          }
          rows[r] = taps[1] * centre + (taps[0] + taps[2]) * side;
        }
        let c = rows[1] * centre + (rows[0] + rows[2]) * side;
        let o = i * 3;
        result[o] = (c.x - u.mean0) / u.std0;
        result[o + 1] = (c.y - u.mean1) / u.std1;
        result[o + 2] = (c.z - u.mean2) / u.std2;
      }`,
  });
});

const CASES: [label: string, shape: [number, number, number, number], cfg: AugmentConfig, seed: number, rows?: number[]][] = [
  ['MoCo v2 (blur), 6 × 32×32', [6, 32, 32, 3], MOCO_V2_AUGMENT, 3],
  ['MoCo v1, 5 × 32×32', [5, 32, 32, 3], MOCO_V1_AUGMENT, 4],
  ['every option at once, 4 × 12×9', [4, 12, 9, 3], { ...MOCO_V2_AUGMENT, jitterProbability: 1, grayscaleProbability: 0.5, blurProbability: 1 }, 5],
  // The key batch's shuffle made by the augmentation: 7 views of 6 images, one twice, in another order.
  ['MoCo v2, 7 views of 6 × 32×32 in the order 4, 0, 5, 2, 2, 1, 3', [6, 32, 32, 3], MOCO_V2_AUGMENT, 6, [4, 0, 5, 2, 2, 1, 3]],
];

/**
 * MoCo's augmentation of one view (src/moco/augment.ts: crop-and-resize, flip, brightness,
 * contrast, saturation, hue, grayscale, 3-tap blur, normalisation) in 2 dispatches: one workgroup
 * per image for the contrast's mean gray level, then one pass that runs the whole colour pipeline
 * per pixel (for the pixels under the blur's 3×3 window where the image is blurred) and
 * normalises. The random parameters (a few numbers per image, and the image each view reads: the
 * key batch's shuffle) go up as one small tensor.
 */
export const augment: CustomKernel = {
  name: 'Augment',
  kernels: [
    { kernelName: MEAN_GRAY, kernelFunc: meanGrayKernel },
    { kernelName: AUGMENT, kernelFunc: augmentKernel },
  ],
  overrides: [
    attach(applyAugment, (plain, images, draws, augmentation, rows) => {
      const [n, h, w, c] = images.shape;
      const inRange = !rows || rows.every((r) => r >= 0 && r < n);
      if (h < 2 || w < 2 || c !== 3 || images.dtype !== 'float32' || !inRange) return plain(images, draws, augmentation, rows);
      const { mean, std } = augmentation.config;
      const attrs: AugmentAttrs = { gray: [...GRAY], mean: [...mean], std: [...std] };
      // Each view reads its own source image and that image's draws (no gather, no reordered copy).
      const views = rows ? rows.length : n;
      return tf.tidy(() => {
        const params = tf.tensor2d(packParams(draws, hueMatrices(draws.hue), views, rows), [views, PARAMS]);
        const [meanGray] = runKernel(MEAN_GRAY, { images, params }, attrs);
        return runKernel(AUGMENT, { images, params, meanGray }, attrs)[0] as tf.Tensor4D;
      });
    }),
  ],
  cases: CASES.map(([label, shape, cfg, seed, rows]) => ({
    name: `augmentation, ${label}`,
    program: AUGMENT,
    run: () => {
      const images = tf.randomUniform(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
      const augmentation = new Augmentation(cfg);
      try {
        return { view: applyAugment(images, sampleAugmentParams(shape[0], cfg, new Rng(seed), shape[1]), augmentation, rows && Int32Array.from(rows)) };
      } finally {
        augmentation.dispose();
      }
    },
  })),
};
