// Run by library.test.ts on Dawn (SwiftShader): which Conv2DBackpropFilter tfjs runs after
// `startBackend('webgpu', …)`, ours or WebGPU's own, and the error of a backend that does not exist.
import * as tf from '@tensorflow/tfjs';
import { WEBGPU_KERNELS } from '../../src/kernels/webgpu';
import { useCustomKernels } from '../../src/lib';
import { startBackend } from '../../src/lib/node';

const ours = WEBGPU_KERNELS.find((k) => k.name === 'Conv2DBackpropFilter')!.replaces!.kernelFunc;
const weightGradientIsOurs = () => tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc === ours;
// Switched on before Dawn is set up, as a user might: the WebGPU backend's kernels do not exist yet.
useCustomKernels(true);
const before = weightGradientIsOurs();
await startBackend('webgpu');
const on = weightGradientIsOurs();
await startBackend('webgpu', { customKernels: false });
const off = weightGradientIsOurs();
const error = await startBackend('gpu' as 'webgpu').then(
  () => null,
  (e: Error) => e.message,
);
console.log(JSON.stringify({ backend: tf.getBackend(), before, on, off, error }));
