/**
 * The WebGPU augmentation kernel on Dawn (SwiftShader) with a view order, as shuffle BN's key batch
 * asks for it: each view reads its source image's draws where they are. Run in a process of its own
 * by augmentRows.test.ts (Dawn reads LD_LIBRARY_PATH at start-up); prints one JSON line.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { customKernelEnabled, useCustomKernels } from '../../src/kernels/registry';
import { applyAugment, Augmentation, MOCO_V2_AUGMENT, sampleAugmentParams } from '../../src/moco/augment';
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';
import { Rng } from '../../src/util/random';

await installNodeWebGpu();
await tf.setBackend('webgpu');
useCustomKernels(true);
const cfg = { ...MOCO_V2_AUGMENT, jitterProbability: 1, grayscaleProbability: 0.3, blurProbability: 0.7 };
const augmentation = new Augmentation(cfg);
const images = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
const draws = sampleAugmentParams(6, cfg, new Rng(17));
// Seven views of six images, one twice, in another order.
const rows = Int32Array.from([4, 0, 5, 2, 2, 1, 3]);
// The kernels each call runs (the augmentation's own, not tfjs's ops).
const engine = tf.engine();
const runKernel = engine.runKernel.bind(engine);
const kernels: string[] = [];
engine.runKernel = (name, inputs, attrs) => {
  kernels.push(name);
  return runKernel(name, inputs, attrs);
};
const inOrder = applyAugment(images, draws, augmentation);
const shuffled = applyAugment(images, draws, augmentation, rows);
engine.runKernel = runKernel;
const gathered = tf.gather(inOrder, rows);
const [a, b] = await Promise.all([shuffled.data(), gathered.data()]);
let differing = 0;
for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differing++;
console.log(
  JSON.stringify({
    backend: tf.getBackend(),
    kernel: customKernelEnabled('Augment'),
    kernels,
    values: a.length,
    differing,
    sha256: createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex'),
  }),
);
augmentation.dispose();
