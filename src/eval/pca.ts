import * as tf from '@tensorflow/tfjs';

/** A 2-D map of the features for a scatter plot: the two directions of largest variance. */
export interface Pca2D {
  /** `[n × 2]` row-major: each point's coordinates along the two principal axes (centred). */
  points: Float32Array;
  /** The two principal axes, unit length, each of the features' dimension. */
  axes: [Float64Array, Float64Array];
  /** Variance along each axis (eigenvalues of the sample covariance, divided by n − 1). */
  variances: [number, number];
  /** Total variance (the covariance's trace), so that axis variance / total is "explained variance". */
  totalVariance: number;
}

/**
 * PCA of `[n, d]` features to 2-D. The covariance (d × d) is formed on the backend; its top two
 * eigenvectors are found here in float64 by subspace iteration; the projection runs on the backend
 * again. The input is not disposed.
 */
export async function pca2d(features: tf.Tensor2D): Promise<Pca2D> {
  const [n, d] = features.shape;
  if (n < 2) throw new Error(`PCA needs at least 2 points, got ${n}`);
  const [centred, covariance] = tf.tidy(() => {
    const c = features.sub(features.mean(0)) as tf.Tensor2D;
    return [c, tf.matMul(c, c, true, false).div(n - 1) as tf.Tensor2D];
  });
  try {
    const cov = Float64Array.from(await covariance.data());
    const { vectors, values } = topEigenpairs(cov, d, Math.min(2, d));
    // A 1-D feature space still gets a second (zero) axis, so the plot code has one shape to handle.
    const axes: [Float64Array, Float64Array] = [vectors[0], vectors[1] ?? new Float64Array(d)];
    const projection = tf.tidy(() => {
      const basis = new Float32Array(d * 2);
      for (let i = 0; i < d; i++) {
        basis[2 * i] = axes[0][i];
        basis[2 * i + 1] = axes[1][i];
      }
      return tf.matMul(centred, tf.tensor2d(basis, [d, 2]));
    });
    try {
      let trace = 0;
      for (let i = 0; i < d; i++) trace += cov[i * d + i];
      return { points: (await projection.data()) as Float32Array, axes, variances: [values[0], values[1] ?? 0], totalVariance: trace };
    } finally {
      projection.dispose();
    }
  } finally {
    centred.dispose();
    covariance.dispose();
  }
}

/**
 * The `count` largest eigenpairs of a symmetric positive semi-definite `d × d` matrix (row-major),
 * by orthogonal (subspace) iteration on a few more vectors than asked, with a Rayleigh–Ritz step
 * (a small Jacobi eigensolve) to sort them out: the wanted subspace converges at the rate of the
 * eigenvalue ratio just past the block, so close top eigenvalues do not slow it down.
 * Each vector's sign is fixed so that its largest-magnitude entry is positive: a plot does not
 * flip between two calls on nearly the same data.
 */
export function topEigenpairs(matrix: Float64Array, d: number, count: number, maxIterations = 500): { vectors: Float64Array[]; values: number[] } {
  const block = Math.min(d, count + 4);
  let basis = orthonormalize(startingBlock(d, block), d);
  let values: number[] = [];
  let vectors: Float64Array[] = [];
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const image = basis.map((v) => multiply(matrix, v, d));
    // Rayleigh–Ritz: the projected matrix Bᵀ A B, its eigenvectors rotate the block into Ritz vectors.
    const projected = new Float64Array(block * block);
    for (let i = 0; i < block; i++) for (let j = 0; j < block; j++) projected[i * block + j] = dot(basis[i], image[j], d);
    const small = jacobiEigen(projected, block);
    const ritz = small.vectors.map((coefficients) => combine(basis, coefficients, d));
    const previous = vectors;
    values = small.values.slice(0, count);
    vectors = ritz.slice(0, count);
    const converged = previous.length === count && vectors.every((v, i) => 1 - Math.abs(dot(v, previous[i], d)) < 1e-13);
    if (converged) break;
    basis = orthonormalize(small.vectors.map((coefficients) => combine(image, coefficients, d)), d);
  }
  for (const v of vectors) {
    let largest = 0;
    for (let i = 0; i < d; i++) if (Math.abs(v[i]) > Math.abs(v[largest])) largest = i;
    if (v[largest] < 0) for (let i = 0; i < d; i++) v[i] = -v[i];
  }
  return { vectors, values };
}

/** Deterministic, and not orthogonal to any particular axis (a start orthogonal to an eigenvector never finds it). */
function startingBlock(d: number, block: number): Float64Array[] {
  return Array.from({ length: block }, (_, j) => Float64Array.from({ length: d }, (_, i) => Math.sin(1 + i * 12.9898 + j * 78.233) + (i % block === j ? 1 : 0)));
}

function multiply(m: Float64Array, v: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += m[i * d + j] * v[j];
    out[i] = sum;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array, d: number): number {
  let sum = 0;
  for (let i = 0; i < d; i++) sum += a[i] * b[i];
  return sum;
}

function combine(vectors: Float64Array[], coefficients: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d);
  vectors.forEach((v, k) => {
    for (let i = 0; i < d; i++) out[i] += coefficients[k] * v[i];
  });
  return out;
}

/** Modified Gram–Schmidt; a vector that vanishes (rank-deficient input) is replaced by a fresh direction. */
function orthonormalize(vectors: Float64Array[], d: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let k = 0; k < vectors.length; k++) {
    let v = Float64Array.from(vectors[k]);
    for (let attempt = 0; attempt <= d; attempt++) {
      for (const u of out) {
        const p = dot(u, v, d);
        for (let i = 0; i < d; i++) v[i] -= p * u[i];
      }
      const norm = Math.sqrt(dot(v, v, d));
      if (norm > 1e-10) {
        for (let i = 0; i < d; i++) v[i] /= norm;
        break;
      }
      v = new Float64Array(d);
      v[(k + attempt) % d] = 1;
    }
    out.push(v);
  }
  return out;
}

/** Cyclic Jacobi for a small symmetric matrix: eigenvalues descending, eigenvectors as coefficient arrays. */
function jacobiEigen(input: Float64Array, n: number): { values: number[]; vectors: Float64Array[] } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  return {
    values: order.map((i) => a[i * n + i]),
    vectors: order.map((col) => Float64Array.from({ length: n }, (_, k) => v[k * n + col])),
  };
}
