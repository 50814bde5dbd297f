import * as tf from '@tensorflow/tfjs';
import { dense as denseOp } from '../../moco/dense';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { gridStride, gridStrideLoop, i32, runProgram } from './program';

const BIAS_GRAD = 'MocoBiasGrad';
const BIAS_RELU_GRAD = 'MocoBiasReluGrad';

/** The head's ReLU as its own operation after the matmul (`--variants custom,custom+SeparateHeadRelu`): the A/B of the fusion. */
let separateRelu = false;

/**
 * A dense layer's gradient (src/moco/dense.ts) with the bias gradient, the column sums of dy, in one
 * dispatch (one invocation per column, neighbouring invocations reading neighbouring columns); tfjs's
 * fused matmul sums them with a transpose and a reduction. With the ReLU (the matmul's activation),
 * the same dispatch takes the ReLU's gradient first, dy·[y > 0], and writes it out for the matmuls
 * (tfjs: step(y), a product, then the sums). x's and W's gradients stay tfjs's matmuls.
 */
export const denseBiasGrad: CustomKernel = {
  name: 'DenseBiasGrad',
  kernels: [
    {
      kernelName: BIAS_GRAD,
      kernelFunc: kernelFunc<'dy'>(['dy'], ({ dy }, _attrs, backend) => {
        const [n, c] = dy.shape;
        return runProgram(backend, {
          name: BIAS_GRAD,
          inputs: { dy },
          outputs: { db: [c] },
          uniforms: { rows: i32(n), columns: i32(c) },
          dispatch: gridStride(c),
          body: () => `
            ${gridStrideLoop('u.columns')} {
              var s = 0.0;
              for (var r = 0; r < u.rows; r++) { s += dy[r * u.columns + i]; }
              db[i] = s;
            }`,
        });
      }),
    },
    {
      // dy·[y > 0] (the gradient before the ReLU) and its column sums (the bias gradient).
      kernelName: BIAS_RELU_GRAD,
      kernelFunc: kernelFunc<'dy' | 'y'>(['dy', 'y'], ({ dy, y }, _attrs, backend) => {
        const [n, c] = dy.shape;
        return runProgram(backend, {
          name: BIAS_RELU_GRAD,
          inputs: { dy, y },
          outputs: { dz: [n, c], db: [c] },
          uniforms: { rows: i32(n), columns: i32(c) },
          dispatch: gridStride(c),
          body: () => `
            ${gridStrideLoop('u.columns')} {
              var s = 0.0;
              for (var r = 0; r < u.rows; r++) {
                let e = r * u.columns + i;
                let g = select(0.0, dy[e], y[e] > 0.0);
                dz[e] = g;
                s += g;
              }
              db[i] = s;
            }`,
        });
      }),
    },
  ],
  overrides: [
    attach(denseOp, (plain, x, kernel, bias, relu = false) => {
      if (x.dtype !== 'float32' || kernel.dtype !== 'float32' || bias.dtype !== 'float32') return plain(x, kernel, bias, relu);
      if (relu && separateRelu) return tf.tidy(() => tf.relu(denseOp(x, kernel, bias)));
      // tfjs's customGrad passes the inputs, then the function that saves tensors for the gradient.
      const layer = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const [a, w, b] = args as tf.Tensor[];
        // tfjs's kernel directly: tf.fused.matMul applies a ReLU on its own (matmul, add, relu) when a
        // gradient is being recorded, as here, since its own gradient could not see the activation.
        const [n, inputs] = a.shape;
        const units = w.shape[1]!;
        const attrs = { transposeA: false, transposeB: false, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0 };
        const value = tf.tidy(() => runKernel('_FusedMatMul', { a: a.reshape([1, n!, inputs!]), b: w.reshape([1, inputs!, units]), bias: b }, attrs)[0].reshape([n!, units]));
        (args[3] as tf.GradSaveFunc)(relu ? [a, w, value] : [a, w]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, [savedA, savedW, savedY]: tf.Tensor[]) => {
            const [dz, db] = relu ? runKernel(BIAS_RELU_GRAD, { dy, y: savedY }) : [dy, runKernel(BIAS_GRAD, { dy })[0]];
            return [tf.matMul(dz, savedW, false, true), tf.matMul(savedA, dz, true, false), db];
          },
        };
      });
      return layer(x, kernel, bias) as tf.Tensor2D;
    }),
  ],
  // The previous way, kept for the A/B (docs/PERFORMANCE.md): tfjs's ReLU, our ReLU gradient, the plain bias gradient.
  options: [{ name: 'SeparateHeadRelu', setOn: (on) => (separateRelu = on), previousDefault: true }],
  cases: (
    [
      [5, 7, 3, false],
      [256, 64, 128, false],
      [5, 7, 3, true],
      [129, 64, 130, true],
    ] as [n: number, inputs: number, units: number, relu: boolean][]
  ).map(([n, inputs, units, relu], i) => ({
    name: `dense layer${relu ? ' + ReLU' : ''} forward and backward, ${n} × ${inputs} → ${units}`,
    program: relu ? BIAS_RELU_GRAD : BIAS_GRAD,
    run: () => {
      const x = normal([n, inputs], 170 + i) as tf.Tensor2D;
      const w = normal([inputs, units], 180 + i) as tf.Tensor2D;
      const b = normal([units], 190 + i) as tf.Tensor1D;
      const dy = normal([n, units], 200 + i);
      const [dx, dw, db] = tf.grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => denseOp(a as tf.Tensor2D, k as tf.Tensor2D, c as tf.Tensor1D, relu).mul(dy).sum())([x, w, b]);
      return { y: denseOp(x, w, b, relu), dx, dw, db };
    },
  })),
};
