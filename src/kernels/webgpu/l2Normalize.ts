import * as tf from '@tensorflow/tfjs';
import { l2Normalize as l2NormalizeOp } from '../../moco/encoder';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram } from './program';

const FORWARD = 'MocoL2Normalize';
const GRAD = 'MocoL2NormalizeGrad';

type Attrs = { epsilon: number };

/** One invocation per row (MoCo's embeddings: a batch of 128-vectors), forward and backward. */
const perRow = (n: number, d: number, epsilon: number) => ({ uniforms: { rows: i32(n), dim: i32(d), epsilon: f32(epsilon) }, dispatch: gridStride(n) });

/**
 * Row-wise L2 normalisation (src/moco/encoder.ts), y = x / max(‖x‖, ε), in one dispatch forward
 * ([y, ‖x‖]) and one backward: dx = (dy − y·(y·dy)) / ‖x‖, or dy / ε where the floor holds.
 */
export const l2Normalize: CustomKernel = {
  name: 'L2Normalize',
  kernels: [
    {
      kernelName: FORWARD,
      kernelFunc: kernelFunc<'x', Attrs>(['x'], ({ x }, { epsilon }, backend) => {
        const [n, d] = x.shape;
        return runProgram(backend, {
          name: FORWARD,
          inputs: { x },
          outputs: { y: x.shape, norm: [n] },
          ...perRow(n, d, epsilon),
          body: () => `
            ${gridStrideLoop('u.rows', 'r')} {
              var s = 0.0;
              for (var j = 0; j < u.dim; j++) { let v = x[r * u.dim + j]; s += v * v; }
              let length = sqrt(s);
              let scale = max(length, u.epsilon);
              for (var j = 0; j < u.dim; j++) { y[r * u.dim + j] = x[r * u.dim + j] / scale; }
              norm[r] = length;
            }`,
        });
      }),
      gradient: {
        outputsToSave: [true, true],
        gradFunc: (dys, [y, norm], attrs) => ({ x: () => runKernel(GRAD, { dy: (dys as tf.Tensor[])[0], y, norm }, attrs)[0] }),
      },
    },
    {
      kernelName: GRAD,
      kernelFunc: kernelFunc<'dy' | 'y' | 'norm', Attrs>(['dy', 'y', 'norm'], ({ dy, y, norm }, { epsilon }, backend) => {
        const [n, d] = y.shape;
        return runProgram(backend, {
          name: GRAD,
          inputs: { dy, y, norm },
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
              for (var j = 0; j < u.dim; j++) {
                let e = r * u.dim + j;
                dx[e] = (dy[e] - y[e] * dot) / scale;
              }
            }`,
        });
      }),
    },
  ],
  overrides: [
    attach(l2NormalizeOp, (plain, x, epsilon = 1e-12) => {
      if (x.dtype !== 'float32') return plain(x, epsilon);
      const [y, norm] = runKernel(FORWARD, { x }, { epsilon });
      norm.dispose();
      return y as tf.Tensor2D;
    }),
  ],
  cases: [
    [5, 128],
    [3, 7],
  ].map(([n, d], i) => ({
    name: `L2 normalisation forward and backward [${n}, ${d}]`,
    program: GRAD,
    run: () => {
      const x = normal([n, d], 110 + i).mul(tf.linspace(0.1, 3, n).reshape([n, 1])) as tf.Tensor2D;
      const dy = normal([n, d], 120 + i);
      const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => l2NormalizeOp(a as tf.Tensor2D).mul(dy).sum())(x);
      return { y: l2NormalizeOp(x), value, dx: grad };
    },
  })),
};
