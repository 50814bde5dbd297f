import * as tf from '@tensorflow/tfjs';
import type { CustomKernel } from '../declaration';

/**
 * tfjs's WebAssembly CropAndResize is wrong for a box that spans the image's full width (x1 = 0,
 * x2 = 1) at the image's width, which MoCo's random-resized crops draw often: the rows between the
 * first and the last are not interpolated between source rows (measured: rows 1–30 of such a 32×32
 * crop differ from the CPU backend's by up to 100 %, rows 0 and 31 agree), so MoCo v1's loss after
 * two steps was 5 % off the CPU backend's. This runs the CPU backend's own kernel on the wasm
 * backend's memory, read with `readSync` and written with `write`, as the weight gradient beside
 * it does: a batch's crops are a few hundred thousand multiply-adds, no matter on which.
 */
const onWasm: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const cpu = tf.getKernel('CropAndResize', 'cpu');
  if (!cpu) throw new Error("CropAndResize on wasm runs the CPU backend's kernel, which is not registered");
  const b = backend as tf.KernelBackend;
  const adapter = {
    data: { get: (dataId: object) => ({ values: b.readSync(dataId) }) },
    makeTensorInfo: (shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues) => ({ dataId: b.write(values, shape, dtype), shape, dtype }),
  };
  return cpu.kernelFunc({ inputs, attrs, backend: adapter as unknown as tf.KernelBackend });
};

export const cropAndResize: CustomKernel = {
  name: 'CropAndResize',
  replaces: { kernelName: 'CropAndResize', kernelFunc: onWasm },
};
