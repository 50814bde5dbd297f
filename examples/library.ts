// The README's "Use the core in your own code", verbatim (tests/lib/library.test.ts checks and runs it):
//   node --import tsx examples/library.ts [auto|webgpu|wasm|cpu] [output folder]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, MoCo, mocoConfig, Trainer, encodeCheckpoint, decodeCheckpoint, restoreTrainer, modelBundleZip, IMAGE_SIZE, type ImageDataset } from '../src/lib';
import { startBackend, type NodeBackend } from '../src/lib/node';

const [backend = 'auto', out = 'library-example'] = process.argv.slice(2);
// The backend, then our kernels on it ({ customKernels: false }: stock tfjs).
console.log((await startBackend(backend as NodeBackend)).line);
const before = tf.memory().numTensors;

// MoCo v2 on your own tensors: RGB images [N, 32, 32, 3] in [0, 1], N a multiple of config.bnSplits.
const config = mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 32, seed: 7 });
const moco = new MoCo(config);
const images = tf.randomUniform([8, IMAGE_SIZE, IMAGE_SIZE, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
for (let i = 0; i < 3; i++) {
  const s = await moco.step(images); // plain numbers, read back once: nothing to dispose
  console.log(`step ${s.step}: loss ${s.loss.toFixed(4)}, accuracy ${s.contrastiveAccuracy.toFixed(4)}, queue ${s.queueFilled}/${s.queueCapacity}`);
}
// m, K, T and the learning rate apply from the next step (K at once: the queue keeps its newest keys).
moco.setParams({ momentum: 0, queueSize: 16 });
const s = await moco.step(images);
console.log(`step ${s.step}: m ${s.momentum}, K ${s.queueCapacity}, key encoder lag ${s.keyLag}`);
images.dispose(); // yours: the MoCo frees only the tensors it made

// The weights in one zip: the TensorFlow.js layers model, safetensors for PyTorch, metadata.json.
mkdirSync(out, { recursive: true });
const bundle = await modelBundleZip(moco.encoderQ, null, { config, liveParams: moco.params, step: moco.stepCount, dataset: 'random tensors', classNames: [] });
writeFileSync(join(out, bundle.name), bundle.zip);
console.log(`weights: ${join(out, bundle.name)}`);
moco.dispose();

// A checkpoint holds the whole run, the order of the data included, so it comes from a Trainer:
// MoCo fed from a dataset in memory (32×32 RGB bytes, image after image, and a label per image).
const size = 64;
const dataset: ImageDataset = {
  name: 'my images',
  size,
  images: Uint8Array.from({ length: size * IMAGE_SIZE * IMAGE_SIZE * 3 }, (_, i) => (i * 7919) % 251),
  labels: new Uint8Array(size),
  classNames: ['unlabelled'],
};
const trainer = new Trainer(config, dataset);
await trainer.step();
const checkpoint = await encodeCheckpoint(trainer);
writeFileSync(join(out, 'run.zip'), checkpoint);
const next = await trainer.step();
trainer.dispose();
// Resume: the same next step, as if never stopped (the headless trainer's and the app's checkpoint format).
const resumed = restoreTrainer(await decodeCheckpoint(checkpoint, 'run.zip'), dataset);
const again = await resumed.step();
resumed.dispose();
console.log(`step ${again.step} resumed: loss ${again.loss.toFixed(6)}, uninterrupted: ${next.loss.toFixed(6)}`);
console.log(`tensors: ${before} before, ${tf.memory().numTensors} after`);
