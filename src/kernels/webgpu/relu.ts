import * as tf from '@tensorflow/tfjs';
import { gridStride, gridStrideLoop, runProgram } from './program';

export const RELU_GRAD_KERNEL = 'MocoReluGrad';

/** dy, x → dy where x > 0, else 0: ReLU's gradient in one pass (tfjs: step(x), then a product). */
export const reluGradKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  const size = tf.util.sizeFromShape(x.shape);
  return runProgram(backend, {
    name: RELU_GRAD_KERNEL,
    key: '',
    outputs: [{ name: 'dx', shape: x.shape }],
    inputs: [
      { name: 'dy', tensor: dy },
      { name: 'x', tensor: x },
    ],
    uniforms: [{ name: 'size', type: 'i32', value: size }],
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(size),
    body: () => `${gridStrideLoop('u.size')} { dx[i] = select(0.0, dy[i], x[i] > 0.0); }`,
  })[0];
};

/**
 * ReLU's gradient through our kernel when `on()` (custom kernels on, webgpu), tfjs's otherwise.
 * Gradients are registered per kernel for all backends at once, hence the check at each call.
 */
export function reluGradient(stock: tf.GradConfig, on: () => boolean): tf.GradConfig {
  return {
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      if (!on() || Array.isArray(dy) || dy.dtype !== 'float32') return stock.gradFunc(dy, saved, attrs);
      const [x] = saved;
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }) as tf.Tensor };
    },
  };
}
