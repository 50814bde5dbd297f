import * as tf from '@tensorflow/tfjs';
import { kernelFunc, type ConvGradAttrs, type CustomKernel } from '../declaration';

interface CpuBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * The weight gradient of a convolution on the CPU backend, in one pass of rank-1 updates:
 * for every output pixel and tap, dW[tap] += x[pixel + tap]ᵀ · dy[pixel]: x and dy are streamed
 * once, and the zeros that ReLU leaves in x are skipped (docs/PERFORMANCE.md: why it replaces tfjs's).
 */
export const conv2dBackpropFilterCpu = kernelFunc<'x' | 'dy', ConvGradAttrs>(['x', 'dy'], ({ x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape }, backend) => {
  if (dataFormat !== 'NHWC') throw new Error('conv2dBackpropFilterCpu: only NHWC is supported');
  const cpu = backend as CpuBackend;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: outH, outWidth: outW, outChannels: cout } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const xs = cpu.readSync(x.dataId) as Float32Array;
  const dys = cpu.readSync(dy.dataId) as Float32Array;
  // Sums run over up to N·H·W terms: accumulate in float64.
  const acc = new Float64Array(kh * kw * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const dyOff = ((b * outH + oy) * outW + ox) * cout;
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i - top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j - left;
            if (ix < 0 || ix >= w) continue;
            const xOff = ((b * h + iy) * w + ix) * cin;
            const tapOff = (i * kw + j) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const xv = xs[xOff + ci];
              if (xv === 0) continue;
              const row = tapOff + ci * cout;
              for (let co = 0; co < cout; co++) acc[row + co] += xv * dys[dyOff + co];
            }
          }
        }
      }
    }
  }
  return cpu.makeTensorInfo(filterShape, 'float32', Float32Array.from(acc));});

export const conv2dBackpropFilter: CustomKernel = {
  name: 'Conv2DBackpropFilter',
  replaces: { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilterCpu },
};
