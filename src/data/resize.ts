import { IMAGE_BYTES, IMAGE_SIZE } from './dataset';

/**
 * How a picture of any size becomes a 32×32 training image: the largest centred square is kept
 * (a centre crop, not a letterbox: bars would be a feature that says nothing about the class and
 * would waste a quarter of a 32-pixel image on a 4:3 photo), then resized. Transparent pixels are
 * shown over white, as a page shows them.
 */
export function centreSquare(width: number, height: number): { x: number; y: number; side: number } {
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

/**
 * RGBA pixels (`width × height × 4`, row-major, straight alpha) → a 32×32 RGB image. The resize is
 * separable with a triangle filter widened by the scale factor (Pillow's antialiased bilinear), so
 * large photos are averaged rather than sampled: no aliasing on downscaling, smooth upscaling.
 */
export function thumbnailFromRGBA(rgba: ArrayLike<number>, width: number, height: number): Uint8Array {
  if (width < 1 || height < 1) throw new Error(`image size ${width}×${height}`);
  if (rgba.length < width * height * 4) throw new Error(`${rgba.length} bytes for a ${width}×${height} RGBA image`);
  const { x, y, side } = centreSquare(width, height);
  const taps = resampleTaps(side, IMAGE_SIZE);

  // Horizontal pass over the crop's rows, compositing over white on the way.
  const rows = new Float32Array(side * IMAGE_SIZE * 3);
  for (let r = 0; r < side; r++) {
    const rowStart = ((y + r) * width + x) * 4;
    for (let o = 0; o < IMAGE_SIZE; o++) {
      let red = 0;
      let green = 0;
      let blue = 0;
      for (let t = taps.start[o], w = 0; w < taps.count[o]; t++, w++) {
        const p = rowStart + t * 4;
        const alpha = rgba[p + 3] / 255;
        const weight = taps.weights[o * taps.stride + w];
        red += weight * (rgba[p] * alpha + 255 * (1 - alpha));
        green += weight * (rgba[p + 1] * alpha + 255 * (1 - alpha));
        blue += weight * (rgba[p + 2] * alpha + 255 * (1 - alpha));
      }
      const q = (r * IMAGE_SIZE + o) * 3;
      rows[q] = red;
      rows[q + 1] = green;
      rows[q + 2] = blue;
    }
  }
  const out = new Uint8Array(IMAGE_BYTES);
  for (let o = 0; o < IMAGE_SIZE; o++) {
    for (let c = 0; c < IMAGE_SIZE * 3; c++) {
      let sum = 0;
      for (let t = taps.start[o], w = 0; w < taps.count[o]; t++, w++) sum += taps.weights[o * taps.stride + w] * rows[t * IMAGE_SIZE * 3 + c];
      out[o * IMAGE_SIZE * 3 + c] = sum <= 0 ? 0 : sum >= 255 ? 255 : Math.round(sum);
    }
  }
  return out;
}

interface Taps {
  /** First input index for each output index. */
  start: Int32Array;
  count: Int32Array;
  /** `stride` weights per output index, normalised to sum 1. */
  weights: Float64Array;
  stride: number;
}

function resampleTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support));
    const last = Math.min(inSize, Math.ceil(centre + support));
    let total = 0;
    for (let i = first; i < last; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / filterScale));
      weights[o * stride + (i - first)] = w;
      total += w;
    }
    for (let i = 0; i < last - first; i++) weights[o * stride + i] /= total;
    start[o] = first;
    count[o] = last - first;
  }
  return { start, count, weights, stride };
}
