import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEncoders, readInitWeights } from '../../src/cli/initWeights';
import { exportEncoder } from '../../src/io/layersModel';
import { mocoConfig } from '../../src/moco/config';
import { MoCo } from '../../src/moco/moco';
import { generateSynthetic } from '../../src/data/synthetic';
import { datasetIdentity, emptyHistory, encodeCheckpoint } from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import { relativeError, useWasmBackend } from '../support/helpers';

// The trainer's own backend here (--backend auto without a GPU), a tenth of the JavaScript CPU backend's time.
beforeAll(useWasmBackend);

const config = mocoConfig('v1', 'tiny', { batchSize: 8, queueSize: 16, bnSplits: 2 });

describe('--init', () => {
  it('opens a bare TensorFlow.js model directory (model.json + weights.bin) into both encoders', async () => {
    const source = new MoCo(config);
    const batch = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    await source.step(batch);
    const dir = mkdtempSync(join(tmpdir(), 'moco-init-'));
    const files = await exportEncoder(source.encoderQ, 'moco_query_encoder');
    writeFileSync(join(dir, 'model.json'), files.modelJson);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(files.weights));
    const target = new MoCo(config);
    const x = tf.randomUniform([4, 32, 32, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    expect(relativeError(await target.encoderQ.embed(x, false).data(), await source.encoderQ.embed(x, false).data())).toBeGreaterThan(1e-3);
    await initEncoders(dir, target.encoderQ, target.encoderK);
    for (const encoder of [target.encoderQ, target.encoderK]) {
      expect(relativeError(await encoder.embed(x, false).data(), await source.encoderQ.embed(x, false).data())).toBe(0);
    }
    tf.dispose([batch, x]);
    source.dispose();
    target.dispose();
  });

  it("starts both encoders from a checkpoint's query encoder, and refuses one of another preset", async () => {
    const dataset = generateSynthetic({ size: 16, seed: 2, split: 'train' });
    const source = new Trainer({ ...config, schedule: { ...config.schedule, totalSteps: 2 } }, dataset);
    await source.step();
    const file = join(mkdtempSync(join(tmpdir(), 'moco-init-ck-')), 'run.zip');
    writeFileSync(file, await encodeCheckpoint(source, { dataset: await datasetIdentity(dataset), history: emptyHistory() }));
    const target = new MoCo(config);
    const x = tf.randomUniform([4, 32, 32, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    await initEncoders(file, target.encoderQ, target.encoderK);
    for (const encoder of [target.encoderQ, target.encoderK]) {
      expect(relativeError(await encoder.embed(x, false).data(), await source.moco.encoderQ.embed(x, false).data())).toBe(0);
    }
    const wider = new MoCo(mocoConfig('v1', 'resnet8', { batchSize: 8, queueSize: 16, bnSplits: 2 }));
    await expect(initEncoders(file, wider.encoderQ, wider.encoderK)).rejects.toThrow(/^--init .*run\.zip: holds a tiny run .* pick the matching --preset and --moco$/);
    tf.dispose(x);
    for (const m of [source, target, wider]) m.dispose();
  });

  it('names the file and what to give instead when it cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-init-bad-'));
    const missing = join(dir, 'nope.safetensors');
    await expect(readInitWeights(missing)).rejects.toThrow(`--init ${missing}: no such file or directory`);
    mkdirSync(join(dir, 'empty'));
    await expect(readInitWeights(join(dir, 'empty'))).rejects.toThrow(/the directory holds neither model\.safetensors nor model\.json/);
    writeFileSync(join(dir, 'notes.txt'), 'hello, these are not weights');
    await expect(readInitWeights(join(dir, 'notes.txt'))).rejects.toThrow(/notes\.txt: is not a safetensors file .*give the downloaded zip/);
    writeFileSync(join(dir, 'cut.zip'), new Uint8Array([0x50, 0x4b, 3, 4, 1, 2, 3]));
    await expect(readInitWeights(join(dir, 'cut.zip'))).rejects.toThrow(/cut\.zip: the zip cannot be read/);
    // Named .zip but no zip: said so, with what the trainer takes instead (a --save directory too).
    writeFileSync(join(dir, 'weights.zip'), 'hello, these are not weights');
    await expect(readInitWeights(join(dir, 'weights.zip'))).rejects.toThrow(
      /weights\.zip: is not a zip archive, though its name ends in \.zip: a file renamed, or a download cut short \(give the downloaded zip, a \.safetensors file or a --save directory\)$/,
    );
    const tfjsOnly = join(dir, 'tfjs');
    mkdirSync(tfjsOnly);
    writeFileSync(join(tfjsOnly, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }));
    await expect(readInitWeights(tfjsOnly)).rejects.toThrow(/model\.json needs weights\.bin, which is missing \(copy the whole --save directory, or give the downloaded zip\)$/);
    // Cut short: one weight of 4 numbers with 8 bytes behind it.
    writeFileSync(join(tfjsOnly, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'conv1/kernel', shape: [4], dtype: 'float32' }] }] }));
    writeFileSync(join(tfjsOnly, 'weights.bin'), new Uint8Array(8));
    await expect(readInitWeights(tfjsOnly)).rejects.toThrow(
      `--init ${tfjsOnly}: weight conv1/kernel is not float32 or runs past the end of the weight file (it is cut short or from another model: save the weights again, or give the downloaded zip)`,
    );
    writeFileSync(join(tfjsOnly, 'model.json'), '{"modelTopology": {');
    await expect(readInitWeights(tfjsOnly)).rejects.toThrow(
      `--init ${tfjsOnly}: model.json is not valid JSON (give a --save directory as the trainer wrote it, the downloaded zip or a .safetensors file)`,
    );
  });
});
