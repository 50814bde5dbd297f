import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterCpu } from '../cpu/conv2dBackpropFilter';
import type { CustomKernel } from '../declaration';

/**
 * tfjs's WebAssembly backend has no weight gradient of a convolution (Conv2DBackpropFilter), so it
 * cannot train a ResNet by itself: our CPU kernel runs on its data (the wasm backend's memory is
 * read with `readSync` and written with `write`, where the CPU backend has `makeTensorInfo`).
 */
const onWasm: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const b = backend as tf.KernelBackend;
  const adapter = {
    readSync: (dataId: object) => b.readSync(dataId),
    makeTensorInfo: (shape: number[], dtype: tf.DataType, values: Float32Array) => ({ dataId: b.write(values, shape, dtype), shape, dtype }),
  };
  return conv2dBackpropFilterCpu({ inputs, attrs, backend: adapter as unknown as tf.KernelBackend });
};

export const conv2dBackpropFilter: CustomKernel = {
  name: 'Conv2DBackpropFilter',
  kernels: [{ kernelName: 'Conv2DBackpropFilter', kernelFunc: onWasm }],
};
