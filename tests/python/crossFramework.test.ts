import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEncoders } from '../../src/cli/initWeights';
import { parseCifar } from '../../src/data/cifar';
import { firstImages } from '../../src/data/summary';
import { normalizeImages } from '../../src/moco/augment';
import { modelBundleFiles } from '../../src/io/modelBundle';
import { mocoConfig, type MocoVersion } from '../../src/moco/config';
import { l2Normalize, type Encoder } from '../../src/moco/encoder';
import { MoCo } from '../../src/moco/moco';
import type { PresetName } from '../../src/moco/resnet';
import { Trainer } from '../../src/train/trainer';
import { REPO_ROOT, relativeError, SHARED, useCpuBackend } from '../support/helpers';
import { runPython, torchPython } from '../support/python';

const OUTPUTS = resolve(REPO_ROOT, 'tests/python/outputs.py');
const CIFAR = resolve(SHARED, 'data/cifar10');
const TOLERANCE = 1e-4;

let python: string;
beforeAll(async () => {
  python = torchPython();
  await useCpuBackend();
});

/** A fixed batch of real CIFAR-10 test images, uint8 NHWC. */
function fixedBatch(n: number): Uint8Array {
  const test = parseCifar(new Uint8Array(readFileSync(join(CIFAR, 'test_1k.bin'))), { fileName: 'test_1k.bin' });
  return firstImages(test, n).images.slice(0, n * 32 * 32 * 3);
}

/** TensorFlow.js's pooled features and L2-normalised embedding under the app's test transform. */
async function tfOutputs(encoder: Encoder, images: Uint8Array, normalization: { mean: readonly number[]; std: readonly number[] }) {
  const n = images.length / (32 * 32 * 3);
  const [features, embedding] = tf.tidy(() => {
    const x = normalizeImages(tf.tensor4d(Float32Array.from(images, (v) => v / 255), [n, 32, 32, 3]), normalization as never);
    const out = encoder.forward(x, false);
    return [out.features, l2Normalize(out.projection as tf.Tensor2D)];
  });
  const result = { features: (await features.data()) as Float32Array, embedding: (await embedding.data()) as Float32Array };
  tf.dispose([features, embedding]);
  return result;
}

function torchOutputs(dir: string) {
  const read = (name: string) => new Float32Array(new Uint8Array(readFileSync(join(dir, name))).buffer);
  return { features: read('features.bin'), embedding: read('embedding.bin') };
}

async function trainedTrainer(preset: PresetName, version: MocoVersion) {
  const train = parseCifar(new Uint8Array(readFileSync(join(CIFAR, 'train_10k.bin'))), { fileName: 'train_10k.bin' });
  const trainer = new Trainer(mocoConfig(version, preset, { batchSize: 8, queueSize: 32, bnSplits: 2, seed: 3 }), firstImages(train, 32));
  // A few steps move the weights and the batch-norm statistics away from their initial values.
  for (let i = 0; i < 2; i++) await trainer.step();
  return trainer;
}

describe('weights across frameworks (TensorFlow.js ⇄ PyTorch, python/moco_torch.py)', () => {
  for (const [preset, version] of [
    ['tiny', 'v2'],
    ['tiny', 'v1'],
    ['resnet8', 'v2'],
  ] as const) {
    it(`${preset} ${version}: PyTorch gives TensorFlow.js's features and embeddings, and TensorFlow.js PyTorch's after an SGD step there (--init)`, async () => {
      const trainer = await trainedTrainer(preset, version);
      const dir = mkdtempSync(join(tmpdir(), `moco-torch-${preset}-`));
      const files = await modelBundleFiles(trainer.moco.encoderQ, null, trainer.bundleInfo());
      writeFileSync(join(dir, 'model.safetensors'), files.get('model.safetensors')!);
      const images = fixedBatch(16);
      writeFileSync(join(dir, 'images.bin'), images);

      // TensorFlow.js → PyTorch.
      const ours = await tfOutputs(trainer.moco.encoderQ, images, trainer.config.augment);
      runPython(python, [OUTPUTS, join(dir, 'model.safetensors'), join(dir, 'images.bin'), dir], { cwd: REPO_ROOT });
      const theirs = torchOutputs(dir);
      expect(theirs.features.length).toBe(ours.features.length);
      expect(theirs.embedding.length).toBe(16 * 128);
      const forward = { features: relativeError(theirs.features, ours.features), embedding: relativeError(theirs.embedding, ours.embedding) };
      console.log(`${preset} ${version} TensorFlow.js → PyTorch: largest relative error features ${forward.features.toExponential(2)}, embedding ${forward.embedding.toExponential(2)}`);
      expect(forward.features).toBeLessThanOrEqual(TOLERANCE);
      expect(forward.embedding).toBeLessThanOrEqual(TOLERANCE);
      if (preset === 'tiny' && version === 'v2') {
        // A port by hand with PyTorch's symmetric padding=1 computes other features: the stride-2
        // convolutions of TensorFlow's 'same' pad only the bottom and right.
        runPython(python, [OUTPUTS, join(dir, 'model.safetensors'), join(dir, 'images.bin'), dir, '--naive-padding'], { cwd: REPO_ROOT });
        const naive = relativeError(torchOutputs(dir).features, ours.features);
        console.log(`with PyTorch's symmetric padding instead: largest relative error of the features ${naive.toExponential(2)}`);
        expect(naive).toBeGreaterThan(1e-2);
      }

      // PyTorch → TensorFlow.js: one SGD step in PyTorch, saved as safetensors, opened as --init does.
      runPython(python, [OUTPUTS, join(dir, 'model.safetensors'), join(dir, 'images.bin'), dir, '--sgd-step', join(dir, 'torch.safetensors')], { cwd: REPO_ROOT });
      const stepped = torchOutputs(dir);
      // The step changed the network (else the check below would prove nothing).
      expect(relativeError(stepped.embedding, theirs.embedding)).toBeGreaterThan(1e-3);
      const fresh = new MoCo(trainer.config);
      await initEncoders(join(dir, 'torch.safetensors'), fresh.encoderQ, fresh.encoderK);
      const back = await tfOutputs(fresh.encoderQ, images, trainer.config.augment);
      const reverse = { features: relativeError(back.features, stepped.features), embedding: relativeError(back.embedding, stepped.embedding) };
      console.log(`${preset} ${version} PyTorch → TensorFlow.js (--init): largest relative error features ${reverse.features.toExponential(2)}, embedding ${reverse.embedding.toExponential(2)}`);
      expect(reverse.features).toBeLessThanOrEqual(TOLERANCE);
      expect(reverse.embedding).toBeLessThanOrEqual(TOLERANCE);
      // The momentum encoder starts as a copy of the query encoder, as in MoCo.
      const key = await tfOutputs(fresh.encoderK, images, trainer.config.augment);
      expect(relativeError(key.embedding, back.embedding)).toBe(0);
      fresh.dispose();
      trainer.dispose();
    }, 120_000);
  }
});
