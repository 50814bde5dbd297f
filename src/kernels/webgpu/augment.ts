import * as tf from '@tensorflow/tfjs';
import type { AugmentConfig, AugmentParams } from '../../moco/augment';
import { gridStride, gridStrideLoop, runProgram } from './program';

/**
 * MoCo's augmentation of one view (src/moco/augment.ts: crop-and-resize, flip, brightness,
 * contrast, saturation, hue, grayscale, 3-tap blur, normalisation) in 2 dispatches instead of
 * about 40: one workgroup per image for the contrast's mean gray level, then one pass that runs
 * the whole colour pipeline per pixel (for the pixels under the blur's 3×3 window where the image
 * is blurred) and normalises. The random parameters (a few numbers per image) are uploaded as one
 * small tensor.
 */

export const AUGMENT_MEAN_GRAY_KERNEL = 'MocoAugmentMeanGray';
export const AUGMENT_KERNEL = 'MocoAugment';

/** Per image: box (4), flip, brightness, contrast, saturation, hue matrix (9, rgb' = rgb·M), grayscale, blur side weight. */
const PARAMS = 19;

export interface ColourConstants {
  /** Luma weights of the gray level. */
  gray: readonly number[];
  /** The hue-rotation matrices, 9 per image (rgb' = rgb · M). */
  hue: Float32Array;
}

function packParams(p: AugmentParams, hue: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * PARAMS);
  for (let i = 0; i < n; i++) {
    const o = i * PARAMS;
    out.set(p.boxes.subarray(4 * i, 4 * i + 4), o);
    out[o + 4] = p.flip[i];
    out[o + 5] = p.brightness[i];
    out[o + 6] = p.contrast[i];
    out[o + 7] = p.saturation[i];
    out.set(hue.subarray(9 * i, 9 * i + 9), o + 8);
    out[o + 17] = p.grayscale[i];
    out[o + 18] = p.blurSide[i];
  }
  return out;
}

interface AugmentAttrs {
  gray: number[];
  mean: number[];
  std: number[];
}

function uniforms(images: tf.TensorInfo, attrs: AugmentAttrs) {
  const [n, h, w] = images.shape;
  return [
    { name: 'images', type: 'i32' as const, value: n },
    { name: 'height', type: 'i32' as const, value: h },
    { name: 'width', type: 'i32' as const, value: w },
    ...attrs.gray.map((v, i) => ({ name: `gray${i}`, type: 'f32' as const, value: v })),
    ...attrs.mean.map((v, i) => ({ name: `mean${i}`, type: 'f32' as const, value: v })),
    ...attrs.std.map((v, i) => ({ name: `std${i}`, type: 'f32' as const, value: v })),
  ];
}

/** The colour pipeline up to brightness (`bright`), and all of it (`colour`), at one output pixel. */
const pipeline = `
  fn P(b : i32, k : i32) -> f32 { return params[b * ${PARAMS} + k]; }
  fn img(b : i32, y : i32, x : i32) -> vec3<f32> {
    let o = ((b * u.height + y) * u.width + x) * 3;
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

/** images [N, H, W, 3], params [N, 19] → mean gray level after brightness, per image [N]. */
export const augmentMeanGrayKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { images, params } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AugmentAttrs;
  return runProgram(backend, {
    name: AUGMENT_MEAN_GRAY_KERNEL,
    key: '',
    outputs: [{ name: 'meanGray', shape: [images.shape[0]] }],
    inputs: [
      { name: 'images', tensor: images },
      { name: 'params', tensor: params },
    ],
    uniforms: uniforms(images, a),
    workgroupSize: [256, 1, 1],
    dispatch: [images.shape[0], 1, 1],
    declarations: () => `var<workgroup> red : array<f32, 256>;\n${pipeline}`,
    body: () => `
      let b = i32(wid.x);
      let pixels = u.height * u.width;
      var s = 0.0;
      for (var p = i32(lidx); p < pixels; p += 256) {
        let y = p / u.width;
        s += grayOf(bright(b, y, p - y * u.width));
      }
      red[lidx] = s;
      workgroupBarrier();
      for (var k = 128u; k > 0u; k = k / 2u) {
        if (lidx < k) { red[lidx] += red[lidx + k]; }
        workgroupBarrier();
      }
      if (lidx == 0u) { meanGray[b] = red[0] / f32(pixels); }`,
  })[0];
};

/** images [N, H, W, 3], params [N, 19], meanGray [N] → the augmented, normalised view [N, H, W, 3]. */
export const augmentKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { images, params, meanGray } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AugmentAttrs;
  const [n, h, w] = images.shape;
  return runProgram(backend, {
    name: AUGMENT_KERNEL,
    key: '',
    outputs: [{ name: 'result', shape: images.shape }],
    inputs: [
      { name: 'images', tensor: images },
      { name: 'params', tensor: params },
      { name: 'meanGray', tensor: meanGray },
    ],
    uniforms: uniforms(images, a),
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(n * h * w),
    declarations: () => pipeline,
    body: () => `
      ${gridStrideLoop('u.images * u.height * u.width', 'i')} {
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
  })[0];
};

/** One augmented view (see applyAugment in src/moco/augment.ts) in 2 dispatches. */
export function augmentWebGpu(images: tf.Tensor4D, p: AugmentParams, cfg: AugmentConfig, colour: ColourConstants): tf.Tensor4D {
  const n = images.shape[0];
  const attrs = { gray: [...colour.gray], mean: [...cfg.mean], std: [...cfg.std] } as unknown as tf.NamedAttrMap;
  return tf.tidy(() => {
    const params = tf.tensor2d(packParams(p, colour.hue, n), [n, PARAMS]);
    const meanGray = tf.engine().runKernel(AUGMENT_MEAN_GRAY_KERNEL, { images, params }, attrs) as tf.Tensor;
    return tf.engine().runKernel(AUGMENT_KERNEL, { images, params, meanGray }, attrs) as tf.Tensor4D;
  });
}
