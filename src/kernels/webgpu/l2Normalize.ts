import * as tf from '@tensorflow/tfjs';
import { l2Normalize as l2NormalizeOp } from '../../moco/encoder';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram } from './program';

const FORWARD = 'MocoL2Normalize';
const GRAD = 'MocoL2NormalizeGrad';
/** The same with an order of the rows (shuffle BN's unshuffle): kernels of their own, as a gradient saves the order. */
const FORWARD_REORDERED = 'MocoL2NormalizeReordered';
const GRAD_REORDERED = 'MocoL2NormalizeReorderedGrad';

type Attrs = { epsilon: number };

/** One invocation per row (MoCo's embeddings: a batch of 128-vectors), forward and backward. */
const perRow = (n: number, d: number, epsilon: number) => ({ uniforms: { rows: i32(n), dim: i32(d), epsilon: f32(epsilon) }, dispatch: gridStride(n) });

/** The input row that output row `r` reads: `rows[r]` where an order is bound, else `r`. */
const sourceRow = (rows: tf.TensorInfo | undefined) => (rows ? 'i32(rows[r])' : 'r');

/** Whether `rows` orders all n rows, each once (then the gradient is a permutation too). */
function isPermutation(rows: Int32Array, n: number): boolean {
  if (rows.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const r of rows) {
    if (!(r >= 0 && r < n) || seen[r]) return false;
    seen[r] = 1;
  }
  return true;
}

/** y = x / max(‖x‖, ε) and ‖x‖, row r from x's row rows[r] (or r). */
function forward(backend: object, x: tf.TensorInfo, rows: tf.TensorInfo | undefined, epsilon: number): tf.TensorInfo[] {
  const [n, d] = x.shape;
  return runProgram(backend, {
    name: FORWARD,
    key: rows ? 'reordered' : '',
    inputs: rows ? { x, rows } : { x },
    outputs: { y: x.shape, norm: [n] },
    ...perRow(n, d, epsilon),
    body: () => `
      ${gridStrideLoop('u.rows', 'r')} {
        let src = ${sourceRow(rows)} * u.dim;
        var s = 0.0;
        for (var j = 0; j < u.dim; j++) { let v = x[src + j]; s += v * v; }
        let length = sqrt(s);
        let scale = max(length, u.epsilon);
        for (var j = 0; j < u.dim; j++) { y[r * u.dim + j] = x[src + j] / scale; }
        norm[r] = length;
      }`,
  });
}

/** dx = (dy − y·(y·dy)) / ‖x‖, or dy / ε where the floor holds, row r written back to rows[r] (or r). */
function backward(backend: object, { dy, y, norm }: Record<'dy' | 'y' | 'norm', tf.TensorInfo>, rows: tf.TensorInfo | undefined, epsilon: number): tf.TensorInfo[] {
  const [n, d] = y.shape;
  return runProgram(backend, {
    name: GRAD,
    key: rows ? 'reordered' : '',
    inputs: rows ? { dy, y, norm, rows } : { dy, y, norm },
    outputs: { dx: y.shape },
    ...perRow(n, d, epsilon),
    body: () => `
      ${gridStrideLoop('u.rows', 'r')} {
        let length = norm[r];
        var dot = 0.0;
        if (length >= u.epsilon) {
          for (var j = 0; j < u.dim; j++) { dot += dy[r * u.dim + j] * y[r * u.dim + j]; }
        }
        let scale = max(length, u.epsilon);
        let to = ${sourceRow(rows)} * u.dim;
        for (var j = 0; j < u.dim; j++) {
          let e = r * u.dim + j;
          dx[to + j] = (dy[e] - y[e] * dot) / scale;
        }
      }`,
  });
}

/**
 * Row-wise L2 normalisation (src/moco/encoder.ts), y = x / max(‖x‖, ε), in one dispatch forward
 * ([y, ‖x‖]) and one backward. Output row r reads input row r, or rows[r] where the caller orders
 * the rows (shuffle BN's unshuffle of the keys, which costs no gather), and the gradient writes it
 * back there. Only that order goes up from the CPU: rows in their own order need none (the query's,
 * every step).
 */
export const l2Normalize: CustomKernel = {
  name: 'L2Normalize',
  kernels: [
    {
      kernelName: FORWARD,
      kernelFunc: kernelFunc<'x', Attrs>(['x'], ({ x }, { epsilon }, backend) => forward(backend, x, undefined, epsilon)),
      gradient: {
        outputsToSave: [true, true],
        gradFunc: (dys, [y, norm], attrs) => ({ x: () => runKernel(GRAD, { dy: (dys as tf.Tensor[])[0], y, norm }, attrs)[0] }),
      },
    },
    {
      kernelName: GRAD,
      kernelFunc: kernelFunc<'dy' | 'y' | 'norm', Attrs>(['dy', 'y', 'norm'], (inputs, { epsilon }, backend) => backward(backend, inputs, undefined, epsilon)),
    },
    {
      kernelName: FORWARD_REORDERED,
      kernelFunc: kernelFunc<'x' | 'rows', Attrs>(['x', 'rows'], ({ x, rows }, { epsilon }, backend) => forward(backend, x, rows, epsilon)),
      gradient: {
        inputsToSave: ['rows'],
        outputsToSave: [true, true],
        gradFunc: (dys, [rows, y, norm], attrs) => ({
          x: () => runKernel(GRAD_REORDERED, { dy: (dys as tf.Tensor[])[0], y, norm, rows }, attrs)[0],
          rows: () => tf.zerosLike(rows),
        }),
      },
    },
    {
      kernelName: GRAD_REORDERED,
      kernelFunc: kernelFunc<'dy' | 'y' | 'norm' | 'rows', Attrs>(['dy', 'y', 'norm', 'rows'], ({ rows, ...rest }, { epsilon }, backend) => backward(backend, rest, rows, epsilon)),
    },
  ],
  overrides: [
    attach(l2NormalizeOp, (plain, x, epsilon = 1e-12, rows) => {
      const n = x.shape[0];
      if (x.dtype !== 'float32' || (rows && !isPermutation(rows, n))) return plain(x, epsilon, rows);
      if (!rows) return runKernel(FORWARD, { x }, { epsilon })[0] as tf.Tensor2D;
      return tf.tidy(() => {
        // Row indices as float32 (our programs bind float32 buffers; exact below 2²⁴).
        const order = tf.tensor1d(Float32Array.from(rows));
        return runKernel(FORWARD_REORDERED, { x, rows: order }, { epsilon })[0] as tf.Tensor2D;
      });
    }),
  ],
  cases: (
    [
      [5, 128],
      [3, 7],
      // Shuffle BN's unshuffle: the rows come out in another order (a permutation), and their gradients go back.
      [5, 128, [3, 0, 4, 1, 2]],
    ] as [number, number, number[]?][]
  ).map(([n, d, order], i) => ({
    name: `L2 normalisation forward and backward [${n}, ${d}]${order ? `, rows in the order ${order.join(', ')}` : ''}`,
    program: GRAD,
    run: () => {
      const rows = order && Int32Array.from(order);
      const x = normal([n, d], 110 + i).mul(tf.linspace(0.1, 3, n).reshape([n, 1])) as tf.Tensor2D;
      const dy = normal([n, d], 120 + i);
      const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => l2NormalizeOp(a as tf.Tensor2D, undefined, rows).mul(dy).sum())(x);
      return { y: l2NormalizeOp(x, undefined, rows), value, dx: grad };
    },
  })),
};
