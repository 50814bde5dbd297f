import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs } from '../cpu/conv2dBackpropFilter';
import { runGemm } from './convGemm';

export const CONV2D_BACKPROP_FILTER_PROGRAM = 'MocoConv2DBackpropFilter';


/**
 * The weight gradient of a convolution as an implicit GEMM with split-K (see convGemm.ts):
 *
 *   dW[m, n] = Σ_k A[m, k] · dy[k, n],  m = (fy, fx, ci), n = co, k = (b, oy, ox),
 *   A[m, k] = x[b, oy·sh + fy − top, ox·sw + fx − left, ci] (0 in the padding),
 *
 * so dW comes out directly in tfjs's [KH, KW, Cin, Cout] layout. The reduction over
 * k = N·OH·OW is the long side (262,144 at ResNet-18's first stage, batch 256, against a
 * 576 × 64 output): tfjs's kernel gives each of the 36,864 outputs one invocation looping over all
 * of k; here k is split across workgroups, and a second dispatch sums the partial products.
 */
export const conv2dBackpropFilterWebGpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error('conv2dBackpropFilterWebGpu: only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return runGemm(backend, {
    name: CONV2D_BACKPROP_FILTER_PROGRAM,
    M: info.filterHeight * info.filterWidth * info.inChannels,
    N: info.outChannels,
    K: info.batchSize * info.outHeight * info.outWidth,
    splitK: true,
    outputShape: filterShape,
    inputs: [
      { name: 'x', tensor: x },
      { name: 'dy', tensor: dy },
    ],
    uniforms: convUniforms(info),
    aContiguous: 'm',
    bContiguous: 'n',
    loaders: `
      // The input pixel that filter tap m = (fy, fx, ci) meets at output position k = (b, oy, ox).
      fn loadA(m : i32, k : i32) -> f32 {
        let ci = m % u.inChannels;
        let tap = m / u.inChannels;
        let fy = tap / u.filterWidth;
        let fx = tap - fy * u.filterWidth;
        let pixels = u.outHeight * u.outWidth;
        let b = k / pixels;
        let p = k - b * pixels;
        let oy = p / u.outWidth;
        let ox = p - oy * u.outWidth;
        let iy = oy * u.strideH - u.padTop + fy;
        let ix = ox * u.strideW - u.padLeft + fx;
        if (iy < 0 || iy >= u.inHeight || ix < 0 || ix >= u.inWidth) { return 0.0; }
        return x[((b * u.inHeight + iy) * u.inWidth + ix) * u.inChannels + ci];
      }
      fn loadB(k : i32, n : i32) -> f32 { return dy[k * u.N + n]; }`,
  });
};

export function convUniforms(info: tf.backend_util.Conv2DInfo) {
  return [
    { name: 'inChannels', type: 'i32' as const, value: info.inChannels },
    { name: 'outChannels', type: 'i32' as const, value: info.outChannels },
    { name: 'filterWidth', type: 'i32' as const, value: info.filterWidth },
    { name: 'inHeight', type: 'i32' as const, value: info.inHeight },
    { name: 'inWidth', type: 'i32' as const, value: info.inWidth },
    { name: 'outHeight', type: 'i32' as const, value: info.outHeight },
    { name: 'outWidth', type: 'i32' as const, value: info.outWidth },
    { name: 'strideH', type: 'i32' as const, value: info.strideHeight },
    { name: 'strideW', type: 'i32' as const, value: info.strideWidth },
    { name: 'padTop', type: 'i32' as const, value: info.padInfo.top },
    { name: 'padLeft', type: 'i32' as const, value: info.padInfo.left },
  ];
}
