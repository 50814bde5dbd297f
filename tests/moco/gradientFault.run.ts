/**
 * `stepAfterGradientFault` on WebGPU (Dawn on SwiftShader), both faults. Run in a process of its own
 * by gradientFault.test.ts (Dawn reads LD_LIBRARY_PATH at start-up); prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs';
import { useCustomKernels } from '../../src/kernels/registry';
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';
import { stepAfterGradientFault } from './gradientFault';

await installNodeWebGpu();
await tf.setBackend('webgpu');
useCustomKernels(true);
// Steps after each fault (SwiftShader is slow: a tiny step takes seconds).
const [forwardSteps, backwardSteps] = [Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 20)];
console.log(JSON.stringify({ forward: await stepAfterGradientFault('forward', forwardSteps), backward: await stepAfterGradientFault('backward', backwardSteps) }));
