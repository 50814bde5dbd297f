import * as tf from '@tensorflow/tfjs';
import { kernelFunc, type CustomKernel } from '../declaration';
import { convGradCases, convUniforms, runGemm, setAlwaysSplitK, SPLIT_K_SUM, type ConvGradAttrs } from './convGemm';

const PROGRAM = 'MocoConv2DBackpropFilter';

/**
 * The weight gradient of a convolution as an implicit GEMM with split-K (see convGemm.ts):
 *
 *   dW[m, n] = Σ_k A[m, k] · dy[k, n],  m = (fy, fx, ci), n = co, k = (b, oy, ox),
 *   A[m, k] = x[b, oy·sh + fy − top, ox·sw + fx − left, ci] (0 in the padding),
 *
 * so dW comes out directly in tfjs's [KH, KW, Cin, Cout] layout; k, the long side, is split across
 * workgroups where it is longer than UNSPLIT_MAX_K, and a second dispatch sums the partial products
 * (docs/PERFORMANCE.md says why).
 */
const weightGradient = kernelFunc<'x' | 'dy', ConvGradAttrs>(['x', 'dy'], ({ x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape }, backend) => {
  if (dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (webgpu): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return runGemm(backend, {
    name: PROGRAM,
    M: info.filterHeight * info.filterWidth * info.inChannels,
    N: info.outChannels,
    K: info.batchSize * info.outHeight * info.outWidth,
    splitK: true,
    outputShape: filterShape,
    inputs: { x, dy },
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
});

export const conv2dBackpropFilter: CustomKernel = {
  name: 'Conv2DBackpropFilter',
  replaces: { kernelName: 'Conv2DBackpropFilter', kernelFunc: weightGradient },
  // Every reduction split as before the threshold (`--variants custom,custom+AlwaysSplitK`): the A/B of
  // one dispatch fewer per short weight gradient. The split cases above check that path.
  options: [{ name: 'AlwaysSplitK', setOn: setAlwaysSplitK, previousDefault: true }],
  cases: convGradCases('Conv2DBackpropFilter', PROGRAM, SPLIT_K_SUM),
};
