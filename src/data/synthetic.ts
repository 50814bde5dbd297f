import { Rng } from '../util/random';
import { IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from './dataset';

/**
 * The built-in dataset: small objects on varied backgrounds, in ten classes told apart by shape
 * and texture only. Colours, contrast, position, scale and rotation are drawn independently of the
 * class, because training applies colour jitter and random grayscale: a class that colour could
 * reveal would let the linear probe succeed for the wrong reason. Every class is symmetric under a
 * horizontal flip (a flipped shape is the same shape at another rotation) and keeps its look under
 * moderate crops, so the MoCo augmentations do not turn one class into another.
 */
export const SYNTHETIC_CLASSES: readonly string[] = [
  'disc',
  'square',
  'triangle',
  'ring',
  'cross',
  'star',
  'stripes',
  'checkerboard',
  'polka dots',
  'crescent',
];

export interface SyntheticOptions {
  size: number;
  seed: number;
  split?: 'train' | 'test';
  name?: string;
}

export function generateSynthetic(options: SyntheticOptions): ImageDataset {
  const { size, seed, split = 'train' } = options;
  if (!Number.isInteger(size) || size < 0) throw new Error(`size must be a non-negative integer, got ${size}`);
  // Train and test take different seeds drawn from one generator, so a test split never replays
  // the train split of some other seed (as `seed ^ constant` would for a matching pair of seeds).
  const splitSeeds = new Rng(seed);
  const trainSeed = splitSeeds.seed();
  const testSeed = splitSeeds.seed();
  const imageSeeds = new Rng(split === 'test' ? testSeed : trainSeed);

  const images = new Uint8Array(size * IMAGE_BYTES);
  const labels = new Uint8Array(size);
  const scratch = new Float32Array(IMAGE_BYTES);
  const coverage = new Float32Array(IMAGE_SIZE * IMAGE_SIZE);
  for (let i = 0; i < size; i++) {
    const label = i % SYNTHETIC_CLASSES.length;
    labels[i] = label;
    // One generator per image keeps image i a function of (seed, split, i) alone, so a smaller
    // dataset is a prefix of a larger one.
    const out = images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
    renderImage(label, new Rng(imageSeeds.seed()), scratch, coverage, out);
  }
  return {
    name: options.name ?? `Built-in shapes (${split})`,
    images,
    labels,
    classNames: SYNTHETIC_CLASSES,
    size,
  };
}

/** `pixels` (float RGB in [0, 1], HWC) and `coverage` are scratch space reused across images. */
function renderImage(label: number, rng: Rng, pixels: Float32Array, coverage: Float32Array, out: Uint8Array): void {
  const palette = drawPalette(rng);
  const foreground = drawForeground(label, rng);
  paintBackground(rng, palette, pixels);

  // A soft drop shadow on some images gives depth, and adds a second, blurred copy of the outline.
  if (rng.bernoulli(0.35)) {
    const offsetAngle = rng.uniform(0, 2 * Math.PI);
    const offset = rng.uniform(1, 2.5);
    const softness = rng.uniform(2, 3.5);
    const strength = rng.uniform(0.25, 0.5);
    rasterise(foreground, offset * Math.cos(offsetAngle), offset * Math.sin(offsetAngle), softness, coverage);
    for (let p = 0; p < coverage.length; p++) {
      const keep = 1 - strength * coverage[p];
      pixels[3 * p] *= keep;
      pixels[3 * p + 1] *= keep;
      pixels[3 * p + 2] *= keep;
    }
  }

  // A random edge width varies the sharpness the way focus and downscaling do in real photos.
  rasterise(foreground, 0, 0, rng.uniform(0.75, 1.5), coverage);
  // Shading and a faint surface texture make the object look lit and solid rather than flat clip-art.
  const lightAngle = rng.uniform(0, 2 * Math.PI);
  const shading = rng.uniform(0, 0.2) / IMAGE_SIZE;
  const lightX = Math.cos(lightAngle) * shading;
  const lightY = Math.sin(lightAngle) * shading;
  const surface = new ValueNoise(rng, 6, rng.uniform(0, 0.06));
  const [fr, fg, fb] = palette.foreground;
  const { centreX, centreY } = foreground.placement;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const p = y * IMAGE_SIZE + x;
      const alpha = coverage[p];
      if (alpha === 0) continue;
      const tone = (x + 0.5 - centreX) * lightX + (y + 0.5 - centreY) * lightY + surface.at(x, y);
      const o = 3 * p;
      pixels[o] += alpha * (fr + tone - pixels[o]);
      pixels[o + 1] += alpha * (fg + tone - pixels[o + 1]);
      pixels[o + 2] += alpha * (fb + tone - pixels[o + 2]);
    }
  }

  // Drawn through Rng, 3,072 values per image would dominate the cost, so pixel noise comes from an
  // inlined xorshift32 seeded by the image's generator, and is triangular (the sum of the two 16-bit
  // halves of a draw) rather than Gaussian: it looks the same as sensor noise and needs no logarithm.
  const noise = rng.uniform(0.004, 0.03) / 65536;
  let state = rng.seed() | 1;
  for (let o = 0; o < IMAGE_BYTES; o++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = pixels[o] + ((state & 0xffff) + ((state >>> 16) & 0xffff) - 65535) * noise;
    out[o] = value <= 0 ? 0 : value >= 1 ? 255 : (value * 255 + 0.5) | 0;
  }
}

/**
 * Writes into `coverage` the fraction of each pixel that the foreground, moved by (shiftX, shiftY),
 * covers. Coverage from the signed distance anti-aliases edges with one evaluation per pixel, where
 * a 3×3 supersample would take nine.
 */
function rasterise(
  { shape, placement }: Foreground,
  shiftX: number,
  shiftY: number,
  edgeWidth: number,
  coverage: Float32Array,
): void {
  const { centreX, centreY, angle, reach } = placement;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const limit = (reach + edgeWidth) * (reach + edgeWidth);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const dy = y + 0.5 - centreY - shiftY;
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const dx = x + 0.5 - centreX - shiftX;
      const u = dx * cos + dy * sin;
      const v = dy * cos - dx * sin;
      coverage[y * IMAGE_SIZE + x] =
        dx * dx + dy * dy > limit ? 0 : clamp01(0.5 - signedDistance(shape, u, v) / edgeWidth);
    }
  }
}

type Rgb = [number, number, number];

interface Palette {
  foreground: Rgb;
  backgroundFrom: Rgb;
  backgroundTo: Rgb;
}

/**
 * Foreground and background are set apart by luminance, not only hue, so that the object survives
 * random grayscale; which one is brighter is a coin flip, so mean brightness says nothing about the
 * class. One image in five is low contrast.
 */
function drawPalette(rng: Rng): Palette {
  const contrast = rng.bernoulli(0.2) ? rng.uniform(0.12, 0.22) : rng.uniform(0.25, 0.65);
  const darker = rng.uniform(0.04, 0.96 - contrast);
  const brighter = darker + contrast;
  const foregroundIsBrighter = rng.bernoulli(0.5);
  const foregroundLuminance = foregroundIsBrighter ? brighter : darker;
  const backgroundLuminance = foregroundIsBrighter ? darker : brighter;
  // The background's own luminance range stays well inside the gap so it never swallows the object.
  const gradient = rng.uniform(0, 0.4) * contrast;
  const backgroundHue = rng.next();
  return {
    foreground: colourOfLuminance(rng.next(), rng.uniform(0, 0.9), foregroundLuminance),
    backgroundFrom: colourOfLuminance(backgroundHue, rng.uniform(0, 0.7), backgroundLuminance - gradient / 2),
    backgroundTo: colourOfLuminance(
      backgroundHue + rng.uniform(-0.15, 0.15),
      rng.uniform(0, 0.7),
      backgroundLuminance + gradient / 2,
    ),
  };
}

/** A colour of the given hue, saturation-like strength and (approximate, after clamping) luma. */
function colourOfLuminance(hue: number, strength: number, luminance: number): Rgb {
  const h = (((hue % 1) + 1) % 1) * 6;
  const sector = Math.floor(h);
  const f = h - sector;
  const pure: Rgb =
    sector === 0 ? [1, f, 0]
    : sector === 1 ? [1 - f, 1, 0]
    : sector === 2 ? [0, 1, f]
    : sector === 3 ? [0, 1 - f, 1]
    : sector === 4 ? [f, 0, 1]
    : [1, 0, 1 - f];
  const pureLuminance = luma(pure[0], pure[1], pure[2]);
  return [
    clamp01(luminance + strength * (pure[0] - pureLuminance)),
    clamp01(luminance + strength * (pure[1] - pureLuminance)),
    clamp01(luminance + strength * (pure[2] - pureLuminance)),
  ];
}

function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/**
 * Two background colours, blended across the image or meeting at a soft horizon, plus faint smooth
 * blotches, so that backgrounds are never flat and sometimes have scenery-like structure of their own.
 */
function paintBackground(rng: Rng, palette: Palette, pixels: Float32Array): void {
  const angle = rng.uniform(0, 2 * Math.PI);
  const normalX = Math.cos(angle);
  const normalY = Math.sin(angle);
  const horizon = rng.bernoulli(0.3);
  const horizonOffset = rng.uniform(-8, 8);
  const horizonSoftness = rng.uniform(0.7, 2.5);
  const [ar, ag, ab] = palette.backgroundFrom;
  const [br, bg, bb] = palette.backgroundTo;
  const coarse = new ValueNoise(rng, 4, rng.uniform(0.02, 0.08));
  const fine = new ValueNoise(rng, 10, rng.uniform(0, 0.035));
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const along = (x + 0.5 - IMAGE_SIZE / 2) * normalX + (y + 0.5 - IMAGE_SIZE / 2) * normalY;
      const t = horizon
        ? clamp01(0.5 + (along - horizonOffset) / horizonSoftness)
        : clamp01(0.5 + along / IMAGE_SIZE);
      const blotch = coarse.at(x, y) + fine.at(x, y);
      const o = (y * IMAGE_SIZE + x) * 3;
      pixels[o] = ar + t * (br - ar) + blotch;
      pixels[o + 1] = ag + t * (bg - ag) + blotch;
      pixels[o + 2] = ab + t * (bb - ab) + blotch;
    }
  }
}

/** Where each pixel column (or row) falls on a lattice of `cells` cells: cell index and smoothed weight. */
interface LatticeSpacing {
  cell: Int32Array;
  weight: Float32Array;
}

const latticeSpacings = new Map<number, LatticeSpacing>();

function latticeSpacing(cells: number): LatticeSpacing {
  let spacing = latticeSpacings.get(cells);
  if (!spacing) {
    const cell = new Int32Array(IMAGE_SIZE);
    const weight = new Float32Array(IMAGE_SIZE);
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const position = ((x + 0.5) * cells) / IMAGE_SIZE;
      cell[x] = Math.min(Math.floor(position), cells - 1);
      const t = position - cell[x];
      weight[x] = t * t * (3 - 2 * t);
    }
    spacing = { cell, weight };
    latticeSpacings.set(cells, spacing);
  }
  return spacing;
}

/** Smoothly interpolated random values on a coarse lattice over the image, in ±amplitude. */
class ValueNoise {
  private readonly values: Float32Array;
  private readonly side: number;
  private readonly spacing: LatticeSpacing;

  constructor(rng: Rng, cells: number, amplitude: number) {
    this.side = cells + 1;
    this.spacing = latticeSpacing(cells);
    this.values = new Float32Array(this.side * this.side);
    for (let i = 0; i < this.values.length; i++) this.values[i] = amplitude * rng.uniform(-1, 1);
  }

  at(x: number, y: number): number {
    const { cell, weight } = this.spacing;
    const wx = weight[x];
    const wy = weight[y];
    const corner = cell[y] * this.side + cell[x];
    const v = this.values;
    const top = v[corner] + wx * (v[corner + 1] - v[corner]);
    const bottom = v[corner + this.side] + wx * (v[corner + this.side + 1] - v[corner + this.side]);
    return top + wy * (bottom - top);
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Where the object sits: its frame has the origin at the centre and axes turned by `angle`. */
interface Placement {
  centreX: number;
  centreY: number;
  angle: number;
  /** No part of the shape lies farther than this from the centre, so most pixels skip the shape. */
  reach: number;
}

/** The rectangle, with corners rounded anywhere from sharp to nearly oval, that a texture fills. */
interface Patch {
  halfU: number;
  halfV: number;
  rounding: number;
}

/**
 * Shapes are plain data evaluated by one `switch`, so the per-pixel call site sees one function
 * rather than a closure of a different kind in every image.
 */
type Shape =
  | { kind: 'disc'; radius: number }
  | { kind: 'square'; half: number }
  | { kind: 'polygon'; polygon: Polygon }
  | { kind: 'ring'; middle: number; halfThickness: number }
  | { kind: 'cross'; arm: number; halfWidth: number }
  | { kind: 'stripes'; patch: Patch; period: number; halfWidth: number; phase: number }
  | { kind: 'checkerboard'; patch: Patch; cell: number; phaseU: number; phaseV: number }
  | { kind: 'dots'; patch: Patch; period: number; dotRadius: number; phaseU: number; phaseV: number }
  | { kind: 'crescent'; radius: number; biteRadius: number; biteOffset: number };

interface Foreground {
  shape: Shape;
  placement: Placement;
}

/**
 * Sizes are in pixels. Solid shapes span about 14–25 pixels so a 0.2-scale crop still holds a
 * recognisable part; texture patches are larger and their periods at least 4.5 pixels, so the
 * pattern still resolves after the crop is resized back to 32×32.
 */
function drawForeground(label: number, rng: Rng): Foreground {
  const className = SYNTHETIC_CLASSES[label];
  const textured = className === 'stripes' || className === 'checkerboard' || className === 'polka dots';
  const radius = textured ? rng.uniform(9, 14) : rng.uniform(7, 12.5);
  const margin = textured ? radius * 0.55 : radius * 0.8;
  const centreX = rng.uniform(margin, IMAGE_SIZE - margin);
  const centreY = rng.uniform(margin, IMAGE_SIZE - margin);
  const angle = rng.uniform(0, 2 * Math.PI);
  const placed = (shape: Shape, reach = radius): Foreground => ({
    shape,
    placement: { centreX, centreY, angle, reach },
  });

  switch (className) {
    case 'disc':
      return placed({ kind: 'disc', radius: radius * 0.82 });
    case 'square':
      return placed({ kind: 'square', half: radius * 0.68 });
    case 'triangle':
      return placed({ kind: 'polygon', polygon: regularPolygon(3, radius * 1.05) }, radius * 1.05);
    case 'ring': {
      const thickness = radius * rng.uniform(0.22, 0.36);
      return placed({ kind: 'ring', middle: radius * 0.88 - thickness / 2, halfThickness: thickness / 2 });
    }
    case 'cross': {
      const arm = radius * 0.92;
      return placed({ kind: 'cross', arm, halfWidth: radius * rng.uniform(0.24, 0.32) }, arm * Math.SQRT2);
    }
    case 'star': {
      const outer = radius * 1.05;
      return placed({ kind: 'polygon', polygon: starPolygon(outer, outer * rng.uniform(0.38, 0.48)) }, outer);
    }
    case 'stripes': {
      const period = rng.uniform(4.5, 7);
      const halfWidth = period * rng.uniform(0.2, 0.3);
      const phase = rng.uniform(0, period);
      const patch = drawPatch(rng, radius);
      return placed({ kind: 'stripes', patch, period, halfWidth, phase }, radius * Math.SQRT2);
    }
    case 'checkerboard': {
      const cell = rng.uniform(5, 7.5);
      const phaseU = rng.uniform(0, 2 * cell);
      const phaseV = rng.uniform(0, 2 * cell);
      const patch = drawPatch(rng, radius);
      return placed({ kind: 'checkerboard', patch, cell, phaseU, phaseV }, radius * Math.SQRT2);
    }
    case 'polka dots': {
      const period = rng.uniform(5.5, 8);
      const dotRadius = period * rng.uniform(0.24, 0.32);
      const phaseU = rng.uniform(0, period);
      const phaseV = rng.uniform(0, period);
      const patch = drawPatch(rng, radius);
      return placed({ kind: 'dots', patch, period, dotRadius, phaseU, phaseV }, radius * Math.SQRT2);
    }
    case 'crescent': {
      const r = radius * 0.85;
      const biteRadius = r * rng.uniform(0.72, 0.86);
      return placed({ kind: 'crescent', radius: r, biteRadius, biteOffset: r * rng.uniform(0.4, 0.6) });
    }
    default:
      throw new Error(`no shape for class ${label}`);
  }
}

function drawPatch(rng: Rng, radius: number): Patch {
  const halfU = radius * rng.uniform(0.75, 1);
  const halfV = radius * rng.uniform(0.75, 1);
  return { halfU, halfV, rounding: Math.min(halfU, halfV) * rng.uniform(0, 0.9) };
}

/** Signed distance in pixels from (u, v) in the object's frame to the shape's outline, negative inside. */
function signedDistance(shape: Shape, u: number, v: number): number {
  switch (shape.kind) {
    case 'disc':
      return Math.sqrt(u * u + v * v) - shape.radius;
    case 'square':
      return boxDistance(u, v, shape.half, shape.half);
    case 'polygon':
      return polygonDistance(shape.polygon, u, v);
    case 'ring':
      return Math.abs(Math.sqrt(u * u + v * v) - shape.middle) - shape.halfThickness;
    case 'cross':
      return Math.min(boxDistance(u, v, shape.arm, shape.halfWidth), boxDistance(u, v, shape.halfWidth, shape.arm));
    case 'stripes': {
      const f = (v + shape.phase) / shape.period;
      const stripe = Math.abs(f - Math.floor(f) - 0.5) * shape.period - shape.halfWidth;
      return Math.max(patchDistance(shape.patch, u, v), stripe);
    }
    case 'checkerboard': {
      const fu = (u + shape.phaseU) / shape.cell;
      const fv = (v + shape.phaseV) / shape.cell;
      const iu = Math.floor(fu);
      const iv = Math.floor(fv);
      // Distance to the nearest cell edge, signed by the cell's colour: exact except near corners.
      const toEdge = (0.5 - Math.max(Math.abs(fu - iu - 0.5), Math.abs(fv - iv - 0.5))) * shape.cell;
      const checker = ((iu + iv) & 1) === 0 ? -toEdge : toEdge;
      return Math.max(patchDistance(shape.patch, u, v), checker);
    }
    case 'dots': {
      const fu = (u + shape.phaseU) / shape.period;
      const fv = (v + shape.phaseV) / shape.period;
      const du = (fu - Math.floor(fu) - 0.5) * shape.period;
      const dv = (fv - Math.floor(fv) - 0.5) * shape.period;
      return Math.max(patchDistance(shape.patch, u, v), Math.sqrt(du * du + dv * dv) - shape.dotRadius);
    }
    case 'crescent': {
      const bu = u - shape.biteOffset;
      return Math.max(Math.sqrt(u * u + v * v) - shape.radius, shape.biteRadius - Math.sqrt(bu * bu + v * v));
    }
  }
}

function patchDistance({ halfU, halfV, rounding }: Patch, u: number, v: number): number {
  return boxDistance(u, v, halfU - rounding, halfV - rounding) - rounding;
}

function boxDistance(u: number, v: number, halfU: number, halfV: number): number {
  const qu = Math.abs(u) - halfU;
  const qv = Math.abs(v) - halfV;
  const ou = qu > 0 ? qu : 0;
  const ov = qv > 0 ? qv : 0;
  return Math.sqrt(ou * ou + ov * ov) + Math.min(Math.max(qu, qv), 0);
}

interface Polygon {
  us: Float64Array;
  vs: Float64Array;
}

function regularPolygon(sides: number, radius: number): Polygon {
  const us = new Float64Array(sides);
  const vs = new Float64Array(sides);
  for (let k = 0; k < sides; k++) {
    us[k] = radius * Math.cos((2 * Math.PI * k) / sides);
    vs[k] = radius * Math.sin((2 * Math.PI * k) / sides);
  }
  return { us, vs };
}

function starPolygon(outer: number, inner: number): Polygon {
  const us = new Float64Array(10);
  const vs = new Float64Array(10);
  for (let k = 0; k < 10; k++) {
    const r = k % 2 === 0 ? outer : inner;
    us[k] = r * Math.cos((Math.PI * k) / 5);
    vs[k] = r * Math.sin((Math.PI * k) / 5);
  }
  return { us, vs };
}

/** Exact signed distance to a simple polygon (after Inigo Quilez): nearest edge, sign by crossings. */
function polygonDistance({ us, vs }: Polygon, u: number, v: number): number {
  const n = us.length;
  let best = Infinity;
  let sign = 1;
  for (let i = 0, j = n - 1; i < n; j = i, i++) {
    const eu = us[j] - us[i];
    const ev = vs[j] - vs[i];
    const wu = u - us[i];
    const wv = v - vs[i];
    const t = clamp01((wu * eu + wv * ev) / (eu * eu + ev * ev));
    const bu = wu - eu * t;
    const bv = wv - ev * t;
    const squared = bu * bu + bv * bv;
    if (squared < best) best = squared;
    const above = v >= vs[i];
    const belowNext = v < vs[j];
    const leftTurn = eu * wv > ev * wu;
    if ((above && belowNext && leftTurn) || (!above && !belowNext && !leftTurn)) sign = -sign;
  }
  return sign * Math.sqrt(best);
}
