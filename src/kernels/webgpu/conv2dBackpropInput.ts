import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs } from '../cpu/conv2dBackpropFilter';
import { convUniforms } from './conv2dBackpropFilter';
import { runGemm } from './convGemm';

export const CONV2D_BACKPROP_INPUT_PROGRAM = 'MocoConv2DBackpropInput';

type Attrs = Omit<Conv2DBackpropFilterAttrs, 'filterShape'> & { inputShape: [number, number, number, number] };

/**
 * The input gradient of a convolution as an implicit GEMM (see convGemm.ts):
 *
 *   dx[m, n] = Σ_k A[m, k] · B[k, n],  m = (b, iy, ix), n = ci, k = (fy, fx, co),
 *   A[m, k] = dy[b, (iy + top − fy)/sh, (ix + left − fx)/sw, co] where that is a whole, in-range
 *   output position (0 elsewhere), B[k, n] = W[fy, fx, ci, co],
 *
 * loading along co, contiguous in both dy and W. tfjs's default kernel gives each input element
 * one invocation looping over the filter window and every output channel, its neighbours reading
 * W a whole row apart; tfjs's own GEMM is behind WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=false. With
 * stride 2, three taps in four meet no output position and multiply zeros (as in tfjs's GEMM).
 * On SwiftShader (a CPU) tfjs's default is the fastest of the three (docs/PERFORMANCE.md), so this
 * kernel is opt-in until measured on a GPU: `npm run bench -- --include Conv2DBackpropInput` runs
 * with it, `--flag WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=false` with tfjs's GEMM.
 */
export const conv2dBackpropInputWebGpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as Attrs;
  if (dataFormat !== 'NHWC') throw new Error('conv2dBackpropInputWebGpu: only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return runGemm(backend, {
    name: CONV2D_BACKPROP_INPUT_PROGRAM,
    M: info.batchSize * info.inHeight * info.inWidth,
    N: info.inChannels,
    K: info.filterHeight * info.filterWidth * info.outChannels,
    splitK: false,
    outputShape: inputShape,
    inputs: [
      { name: 'dy', tensor: dy },
      { name: 'W', tensor: filter },
    ],
    uniforms: convUniforms(info),
    aContiguous: 'k',
    bContiguous: 'k',
    loaders: `
      // The output gradient that reaches input pixel m = (b, iy, ix) through filter tap k = (fy, fx, co).
      fn loadA(m : i32, k : i32) -> f32 {
        let co = k % u.outChannels;
        let tap = k / u.outChannels;
        let fy = tap / u.filterWidth;
        let fx = tap - fy * u.filterWidth;
        let pixels = u.inHeight * u.inWidth;
        let b = m / pixels;
        let p = m - b * pixels;
        let iy = p / u.inWidth;
        let ix = p - iy * u.inWidth;
        let ty = iy + u.padTop - fy;
        let tx = ix + u.padLeft - fx;
        if (ty < 0 || tx < 0 || ty % u.strideH != 0 || tx % u.strideW != 0) { return 0.0; }
        let oy = ty / u.strideH;
        let ox = tx / u.strideW;
        if (oy >= u.outHeight || ox >= u.outWidth) { return 0.0; }
        return dy[((b * u.outHeight + oy) * u.outWidth + ox) * u.outChannels + co];
      }
      fn loadB(k : i32, n : i32) -> f32 {
        let co = k % u.outChannels;
        let tap = k / u.outChannels;
        return W[(tap * u.inChannels + n) * u.outChannels + co];
      }`,
  });
};
