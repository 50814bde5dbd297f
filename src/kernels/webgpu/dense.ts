import * as tf from '@tensorflow/tfjs';
import { dense as denseOp } from '../../moco/dense';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { gridStride, gridStrideLoop, i32, runProgram } from './program';

const BIAS_GRAD = 'MocoBiasGrad';

/**
 * A dense layer's gradient (src/moco/dense.ts) with the bias gradient, the column sums of dy, in one
 * dispatch (one invocation per column, neighbouring invocations reading neighbouring columns); tfjs's
 * fused matmul sums them with a transpose and a reduction. x's and W's gradients stay tfjs's matmuls.
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
  ],
  overrides: [
    attach(denseOp, (plain, x, kernel, bias) => {
      if (x.dtype !== 'float32' || kernel.dtype !== 'float32' || bias.dtype !== 'float32') return plain(x, kernel, bias);
      // tfjs's customGrad passes the inputs, then the function that saves tensors for the gradient.
      const layer = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const [a, w, b] = args as tf.Tensor[];
        (args[3] as tf.GradSaveFunc)([a, w]);
        return {
          value: tf.fused.matMul({ a: a as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }),
          gradFunc: (dy: tf.Tensor, [savedA, savedW]: tf.Tensor[]) => [
            tf.matMul(dy, savedW, false, true),
            tf.matMul(savedA, dy, true, false),
            runKernel(BIAS_GRAD, { dy })[0],
          ],
        };
      });
      return layer(x, kernel, bias) as tf.Tensor2D;
    }),
  ],
  cases: (
    [
      [5, 7, 3],
      [256, 64, 128],
    ] as [n: number, inputs: number, units: number][]
  ).map(([n, inputs, units], i) => ({
    name: `dense layer forward and backward, ${n} × ${inputs} → ${units}`,
    program: BIAS_GRAD,
    run: () => {
      const x = normal([n, inputs], 170 + i) as tf.Tensor2D;
      const w = normal([inputs, units], 180 + i) as tf.Tensor2D;
      const b = normal([units], 190 + i) as tf.Tensor1D;
      const dy = normal([n, units], 200 + i);
      const [dx, dw, db] = tf.grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => denseOp(a as tf.Tensor2D, k as tf.Tensor2D, c as tf.Tensor1D).mul(dy).sum())([x, w, b]);
      return { y: denseOp(x, w, b), dx, dw, db };
    },
  })),
};
