import * as tf from '@tensorflow/tfjs';
import { kernelFunc, type CustomKernel } from '../declaration';
import { convCases, convUniforms, runGemm, type ConvGradAttrs } from './convGemm';

export const INPUT_GRADIENT_PROGRAM = 'MocoConv2DBackpropInput';

/**
 * The input gradient of a convolution as an implicit GEMM (see convGemm.ts):
 *
 *   dx[m, n] = Σ_k A[m, k] · B[k, n],  m = (b, iy, ix), n = ci, k = (fy, fx, co),
 *   A[m, k] = dy[b, (iy + top − fy)/sh, (ix + left − fx)/sw, co] where that is a whole, in-range
 *   output position (0 elsewhere), B[k, n] = W[fy, fx, ci, co],
 *
 * loading along co, contiguous in both dy and W (4 at a time on the wide tiles where Cout is a
 * multiple of 4). With stride 2, three taps in four meet no output position and multiply zeros (as
 * in tfjs's GEMM). Opt-in: docs/PERFORMANCE.md says why, and how to compare it with tfjs's two kernels.
 */
const inputGradient = kernelFunc<'dy' | 'filter', ConvGradAttrs>(['dy', 'filter'], ({ dy, filter }, { inputShape, strides, pad, dataFormat, dimRoundingMode }, backend) => {
  if (dataFormat !== 'NHWC') throw new Error('Conv2DBackpropInput (webgpu): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return runGemm(backend, {
    name: INPUT_GRADIENT_PROGRAM,
    M: info.batchSize * info.inHeight * info.inWidth,
    N: info.inChannels,
    K: info.filterHeight * info.filterWidth * info.outChannels,
    splitK: false,
    outputShape: inputShape,
    inputs: { dy, W: filter },
    uniforms: convUniforms(info),
    indexing: `
      // The output gradient that reaches input pixel m = (b, iy, ix) through filter tap k = (fy, fx, co).
      fn dyIndex(m : i32, k : i32) -> i32 {
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
        if (ty < 0 || tx < 0 || ty % u.strideH != 0 || tx % u.strideW != 0) { return -1; }
        let oy = ty / u.strideH;
        let ox = tx / u.strideW;
        if (oy >= u.outHeight || ox >= u.outWidth) { return -1; }
        return ((b * u.outHeight + oy) * u.outWidth + ox) * u.outChannels + co;
      }
      fn wIndex(k : i32, n : i32) -> i32 {
        let co = k % u.outChannels;
        let tap = k / u.outChannels;
        return (tap * u.inChannels + n) * u.outChannels + co;
      }`,
    a: { buffer: 'dy', index: 'dyIndex', contiguous: 'k', vec4: info.outChannels % 4 === 0 },
    b: { buffer: 'W', index: 'wIndex', contiguous: 'k', vec4: info.outChannels % 4 === 0 },
  });
});

export const conv2dBackpropInput: CustomKernel = {
  name: 'Conv2DBackpropInput',
  optIn: true,
  replaces: { kernelName: 'Conv2DBackpropInput', kernelFunc: inputGradient },
  // The default tiles; the wide ones are GemmWideTiles' cases (gemmWideTiles.ts).
  cases: convCases('Conv2DBackpropInput', INPUT_GRADIENT_PROGRAM),
};
