import * as tf from '@tensorflow/tfjs';
import { gridStride, gridStrideLoop, runProgram, type Uniform } from './program';

/**
 * Row-wise L2 normalisation, y = x / max(‖x‖, ε), in one dispatch forward and one backward
 * (tfjs: square, sum, sqrt, maximum, divide, and about twice as many kernels back), one
 * invocation per row (MoCo's embeddings: a batch of 128-vectors).
 */

export const L2_NORMALIZE_KERNEL = 'MocoL2Normalize';
export const L2_NORMALIZE_GRAD_KERNEL = 'MocoL2NormalizeGrad';

/** One invocation per row, forward and backward. */
function perRow(n: number, d: number, epsilon: number) {
  return {
    uniforms: [
      { name: 'rows', type: 'i32', value: n },
      { name: 'dim', type: 'i32', value: d },
      { name: 'epsilon', type: 'f32', value: epsilon },
    ] as Uniform[],
    workgroupSize: [256, 1, 1] as [number, number, number],
    dispatch: gridStride(n),
  };
}

/** x [N, D]; attr epsilon → [y, norm [N] (before the floor)]. */
export const l2NormalizeKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const { epsilon } = attrs as unknown as { epsilon: number };
  const [n, d] = x.shape;
  return runProgram(backend, {
    name: L2_NORMALIZE_KERNEL,
    key: '',
    outputs: [
      { name: 'y', shape: x.shape },
      { name: 'norm', shape: [n] },
    ],
    inputs: [{ name: 'x', tensor: x }],
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
};

/** dy, y [N, D], norm [N]; attr epsilon → dx = (dy − y·(y·dy)) / ‖x‖, or dy / ε where the floor holds. */
export const l2NormalizeGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y, norm } = inputs as Record<string, tf.TensorInfo>;
  const { epsilon } = attrs as unknown as { epsilon: number };
  const [n, d] = y.shape;
  return runProgram(backend, {
    name: L2_NORMALIZE_GRAD_KERNEL,
    key: '',
    outputs: [{ name: 'dx', shape: y.shape }],
    inputs: [
      { name: 'dy', tensor: dy },
      { name: 'y', tensor: y },
      { name: 'norm', tensor: norm },
    ],
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
  })[0];
};

export function l2NormalizeWebGpu(x: tf.Tensor2D, epsilon: number): tf.Tensor2D {
  const attrs = { epsilon } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad((...args) => {
    const [xs, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [y, norm] = tf.engine().runKernel(L2_NORMALIZE_KERNEL, { x: xs }, attrs) as tf.Tensor[];
    save([y, norm]);
    return {
      value: y as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(L2_NORMALIZE_GRAD_KERNEL, { dy, y: saved[0], norm: saved[1] }, attrs) as tf.Tensor,
    };
  });
  return f(x) as tf.Tensor2D;
}
