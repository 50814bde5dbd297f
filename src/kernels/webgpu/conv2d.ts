import * as tf from '@tensorflow/tfjs';
import { kernelFunc, type CustomKernel } from '../declaration';
import { convCases, convUniforms, IM2COL_INDEX, runGemm } from './convGemm';

export const CONV2D_PROGRAM = 'MocoConv2D';

/** tfjs's attributes of Conv2D, as our replacement reads them. */
interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The forward convolution as an implicit GEMM (see convGemm.ts), in one dispatch:
 *
 *   y[m, n] = Σ_k A[m, k] · B[k, n],  m = (b, oy, ox), n = co, k = (fy, fx, ci),
 *   A[m, k] = x[b, oy·sh + fy − top, ox·sw + fx − left, ci] (0 in the padding), B[k, n] = W[fy, fx, ci, co],
 *
 * so y comes out in NHWC and B is the filter as it lies. A is contiguous along k (ci), B along n
 * (co): the wide tiles load 4 at a time along each where its channel count is a multiple of 4 (all
 * but the stem's 3 input channels). tfjs's gradient of Conv2D is unchanged: it calls the two
 * backprop kernels. Opt-in until a GPU's A/B against tfjs's `Conv2DMMProgram` says
 * (`--variants custom,custom+Conv2D`; docs/PERFORMANCE.md).
 */
const forward = kernelFunc<'x' | 'filter', Conv2DAttrs>(['x', 'filter'], ({ x, filter }, { strides, pad, dataFormat, dilations, dimRoundingMode }, backend) => {
  if (dataFormat !== 'NHWC') throw new Error(`Conv2D (webgpu, ours): only NHWC is supported, got ${dataFormat}; leave the kernel stock with --except Conv2D`);
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error(`Conv2D (webgpu, ours): dilation ${info.dilationHeight}×${info.dilationWidth} is not supported, only 1; leave the kernel stock with --except Conv2D`);
  return runGemm(backend, {
    name: CONV2D_PROGRAM,
    M: info.batchSize * info.outHeight * info.outWidth,
    N: info.outChannels,
    K: info.filterHeight * info.filterWidth * info.inChannels,
    splitK: false,
    outputShape: info.outShape,
    inputs: { x, W: filter },
    uniforms: convUniforms(info),
    indexing: `
      ${IM2COL_INDEX}
      // Rows are output positions m = (b, oy, ox), the reduction runs over filter taps k = (fy, fx, ci).
      fn xIndex(m : i32, k : i32) -> i32 { return im2colIndex(m, k); }
      fn wIndex(k : i32, n : i32) -> i32 { return k * u.N + n; }`,
    a: { buffer: 'x', index: 'xIndex', contiguous: 'k', vec4: info.inChannels % 4 === 0 },
    b: { buffer: 'W', index: 'wIndex', contiguous: 'n', vec4: info.outChannels % 4 === 0 },
  });
});

export const conv2d: CustomKernel = {
  name: 'Conv2D',
  optIn: true,
  replaces: { kernelName: 'Conv2D', kernelFunc: forward },
  // The default tiles; the wide ones are GemmWideTiles' cases (gemmWideTiles.ts).
  cases: convCases('Conv2D', CONV2D_PROGRAM),
};
