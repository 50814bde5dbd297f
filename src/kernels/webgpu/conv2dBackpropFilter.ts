import * as tf from '@tensorflow/tfjs';
import { kernelFunc, type CustomKernel } from '../declaration';
import { convCases, convUniforms, IM2COL_INDEX, runGemm, setAlwaysSplitK, SPLIT_K_SUM, type ConvGradAttrs } from './convGemm';

export const WEIGHT_GRADIENT_PROGRAM = 'MocoConv2DBackpropFilter';

/**
 * The weight gradient of a convolution as an implicit GEMM with split-K (see convGemm.ts):
 *
 *   dW[m, n] = Σ_k A[m, k] · dy[k, n],  m = (fy, fx, ci), n = co, k = (b, oy, ox),
 *   A[m, k] = x[b, oy·sh + fy − top, ox·sw + fx − left, ci] (0 in the padding),
 *
 * so dW comes out directly in tfjs's [KH, KW, Cin, Cout] layout; k, the long side, is split across
 * workgroups where it is longer than UNSPLIT_MAX_K, and a second dispatch sums the partial products
 * (docs/PERFORMANCE.md says why). A is contiguous along m (ci), dy along n (co): the wide tiles load
 * 4 at a time along each where its channel count is a multiple of 4.
 */
const weightGradient = kernelFunc<'x' | 'dy', ConvGradAttrs>(['x', 'dy'], ({ x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape }, backend) => {
  if (dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (webgpu): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return runGemm(backend, {
    name: WEIGHT_GRADIENT_PROGRAM,
    M: info.filterHeight * info.filterWidth * info.inChannels,
    N: info.outChannels,
    K: info.batchSize * info.outHeight * info.outWidth,
    splitK: true,
    outputShape: filterShape,
    inputs: { x, dy },
    uniforms: convUniforms(info),
    indexing: `
      ${IM2COL_INDEX}
      // Rows are filter taps m = (fy, fx, ci), the reduction runs over output positions k = (b, oy, ox).
      fn xIndex(m : i32, k : i32) -> i32 { return im2colIndex(k, m); }
      fn dyIndex(k : i32, n : i32) -> i32 { return k * u.N + n; }`,
    a: { buffer: 'x', index: 'xIndex', contiguous: 'm', vec4: info.inChannels % 4 === 0 },
    b: { buffer: 'dy', index: 'dyIndex', contiguous: 'n', vec4: info.outChannels % 4 === 0 },
  });
});

export const conv2dBackpropFilter: CustomKernel = {
  name: 'Conv2DBackpropFilter',
  replaces: { kernelName: 'Conv2DBackpropFilter', kernelFunc: weightGradient },
  options: [
    // Every reduction split as before the threshold (`--variants custom,custom+AlwaysSplitK`): the A/B of
    // one dispatch fewer per short weight gradient. The split cases below check that path.
    { name: 'AlwaysSplitK', setOn: setAlwaysSplitK, previousDefault: true },
  ],
  // The default tiles; the wide ones are GemmWideTiles' cases (gemmWideTiles.ts).
  cases: convCases('Conv2DBackpropFilter', WEIGHT_GRADIENT_PROGRAM, { splitKProgram: SPLIT_K_SUM }),
};
