import * as tf from '@tensorflow/tfjs';
import { kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { gridStride, gridStrideLoop, i32, runProgram } from './program';

const RELU_GRAD = 'MocoReluGrad';

/** ReLU's gradient, dy where x > 0, in one pass (tfjs: step(x), then a product). */
export const reluGrad: CustomKernel = {
  name: 'ReluGrad',
  kernels: [
    {
      kernelName: RELU_GRAD,
      kernelFunc: kernelFunc(['dy', 'x'], ({ dy, x }, _attrs, backend) => {
        const size = tf.util.sizeFromShape(x.shape);
        return runProgram(backend, {
          name: RELU_GRAD,
          inputs: { dy, x },
          outputs: { dx: x.shape },
          uniforms: { size: i32(size) },
          dispatch: gridStride(size),
          body: () => `${gridStrideLoop('u.size')} { dx[i] = select(0.0, dy[i], x[i] > 0.0); }`,
        });
      }),
    },
  ],
  // tfjs's Relu_grad saves the same input, so either gradient can run on what the forward pass saved.
  gradient: { kernelName: 'Relu', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x })[0] }) },
  cases: [[4, 7, 5, 3], [2, 16, 16, 8]].map((shape, i) => ({
    name: `ReLU backward [${shape}]`,
    program: RELU_GRAD,
    run: () => {
      const dy = normal(shape, 40 + i);
      return { dx: tf.grad((a: tf.Tensor) => tf.relu(a).mul(dy).sum())(normal(shape, 50 + i)) };
    },
  })),
};
