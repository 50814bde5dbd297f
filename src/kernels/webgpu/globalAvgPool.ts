import * as tf from '@tensorflow/tfjs';
import { globalAvgPool as globalAvgPoolOp } from '../../moco/pooling';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { gridStride, gridStrideLoop, i32, runProgram } from './program';

const FORWARD = 'MocoGlobalAvgPool';
const GRAD = 'MocoGlobalAvgPoolGrad';

type Attrs = { height: number; width: number };

/**
 * The ResNet's global average pooling (src/moco/pooling.ts) in one dispatch forward, one invocation
 * per (image, channel) summing its H·W pixels (neighbouring invocations read neighbouring channels),
 * and one backward, dy / (H·W) spread over the pixels. tfjs: a transpose and a reduction forward, a
 * product and a division backward.
 */
export const globalAvgPool: CustomKernel = {
  name: 'GlobalAvgPool',
  kernels: [
    {
      kernelName: FORWARD,
      kernelFunc: kernelFunc<'x'>(['x'], ({ x }, _attrs, backend) => {
        const [n, h, w, c] = x.shape;
        return runProgram(backend, {
          name: FORWARD,
          inputs: { x },
          outputs: { y: [n, c] },
          uniforms: { size: i32(n * c), pixels: i32(h * w), channels: i32(c) },
          dispatch: gridStride(n * c),
          body: () => `
            ${gridStrideLoop('u.size')} {
              let b = i / u.channels;
              let ch = i - b * u.channels;
              var s = 0.0;
              for (var p = 0; p < u.pixels; p++) { s += x[(b * u.pixels + p) * u.channels + ch]; }
              y[i] = s / f32(u.pixels);
            }`,
        });
      }),
      gradient: { gradFunc: (dy, _saved, attrs) => ({ x: () => runKernel(GRAD, { dy: dy as tf.Tensor }, attrs)[0] }) },
    },
    {
      kernelName: GRAD,
      kernelFunc: kernelFunc<'dy', Attrs>(['dy'], ({ dy }, { height, width }, backend) => {
        const [n, c] = dy.shape;
        const size = n * height * width * c;
        return runProgram(backend, {
          name: GRAD,
          inputs: { dy },
          outputs: { dx: [n, height, width, c] },
          uniforms: { size: i32(size), pixels: i32(height * width), channels: i32(c) },
          dispatch: gridStride(size),
          body: () => `
            ${gridStrideLoop('u.size')} {
              let ch = i % u.channels;
              let b = i / (u.pixels * u.channels);
              dx[i] = dy[b * u.channels + ch] / f32(u.pixels);
            }`,
        });
      }),
    },
  ],
  overrides: [
    attach(globalAvgPoolOp, (plain, x) => {
      if (x.dtype !== 'float32') return plain(x);
      const [, height, width] = x.shape;
      return runKernel(FORWARD, { x }, { height, width } satisfies Attrs)[0] as tf.Tensor2D;
    }),
  ],
  cases: [
    [3, 5, 7, 11],
    [4, 8, 8, 64],
  ].map((shape, i) => ({
    name: `global average pooling forward and backward [${shape}]`,
    program: GRAD,
    run: () => {
      const x = normal(shape, 130 + i, 0.5) as tf.Tensor4D;
      const dy = normal([shape[0], shape[3]], 140 + i);
      const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => globalAvgPoolOp(a as tf.Tensor4D).mul(dy).sum())(x);
      return { y: globalAvgPoolOp(x), value, dx: grad };
    },
  })),
};
