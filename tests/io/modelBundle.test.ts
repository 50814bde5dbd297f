import * as tf from '@tensorflow/tfjs';
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { normalizeImages } from '../../src/moco/augment';
import { BUNDLE_FORMAT, BundleError, metadataProblems, modelBundleZip, unzipBundle, weightsFromFile, type ModelMetadata } from '../../src/io/modelBundle';
import { readSafetensors } from '../../src/io/safetensors';
import { encoderStateDict, loadStateDict, tfjsWeightsToStateDict, WeightsMismatchError } from '../../src/io/stateDict';
import { mocoConfig } from '../../src/moco/config';
import { Encoder } from '../../src/moco/encoder';
import { MoCo } from '../../src/moco/moco';
import { PRESETS } from '../../src/moco/resnet';
import { Trainer } from '../../src/train/trainer';
import { relativeError, useWasmBackend } from '../support/helpers';

beforeAll(useWasmBackend);

async function trained() {
  const trainer = new Trainer(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 24, bnSplits: 2 }), generateSynthetic({ size: 32, seed: 5, split: 'train' }));
  for (let i = 0; i < 2; i++) await trainer.step();
  return trainer;
}

describe('the weights download (one zip)', () => {
  it('holds every file, a metadata.json with the documented fields, and a TensorFlow.js model that embeds like the trainer', async () => {
    const trainer = await trained();
    const { name, zip } = await modelBundleZip(trainer.moco.encoderQ, trainer.moco.encoderK, {
      ...trainer.bundleInfo(),
      knn: { step: 2, accuracy: 0.25, k: 200 },
    });
    expect(name).toBe('moco-tiny-v2-step2.zip');
    const files = unzipBundle(zip);
    const meta = JSON.parse(new TextDecoder().decode(files.get('metadata.json'))) as ModelMetadata;
    expect(metadataProblems(meta)).toEqual([]);
    // Every file the metadata lists is in the zip, and nothing else.
    expect([...files.keys()].sort()).toEqual(Object.keys(meta.files).sort());
    expect(Object.keys(meta.files).sort()).toEqual(['README.txt', 'key/model.json', 'key/model.safetensors', 'key/weights.bin', 'metadata.json', 'model.json', 'model.safetensors', 'weights.bin']);
    expect(meta).toMatchObject({
      format: BUNDLE_FORMAT,
      preset: 'tiny',
      mocoVersion: 'v2',
      step: 2,
      architecture: { widths: [4, 8], blocks: [1, 1], head: 'mlp', embeddingDim: 128, batchNormEpsilon: 1e-5 },
      input: { shape: [32, 32, 3], pixelRange: [0, 1], mean: [...trainer.config.augment.mean], std: [...trainer.config.augment.std] },
      classNames: [...trainer.dataset.classNames],
      liveParams: { momentum: 0.99, queueSize: 24 },
      evaluation: { knn: { step: 2, accuracy: 0.25, k: 200 }, probe: null },
    });
    expect(new TextDecoder().decode(files.get('README.txt'))).toMatch(/tf\.io\.fromMemory[\s\S]*moco_torch\.load[\s\S]*torchrun/);
    // A metadata.json missing a documented field, or with a wrong one, is reported.
    const broken = { ...meta, input: { ...meta.input, mean: [0.5] } } as Partial<ModelMetadata>;
    delete broken.classNames;
    expect(metadataProblems(broken)).toEqual(['field input is missing or malformed', 'field classNames is missing or malformed']);

    const images = generateSynthetic({ size: 6, seed: 77, split: 'test' });
    const x = normalizeImages(tf.tensor4d(Float32Array.from(images.images, (v) => v / 255), [6, 32, 32, 3]), trainer.config.augment);
    for (const [dir, encoder] of [['', trainer.moco.encoderQ], ['key/', trainer.moco.encoderK]] as const) {
      const json = JSON.parse(new TextDecoder().decode(files.get(`${dir}model.json`))) as tf.io.ModelJSON;
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: files.get(`${dir}weights.bin`)!.slice().buffer }),
      );
      const fromZip = tf.tidy(() => {
        const p = model.predict(x) as tf.Tensor2D;
        return p.div(tf.norm(p, 'euclidean', 1, true));
      });
      const direct = encoder.embed(x, false);
      const error = relativeError(await fromZip.data(), await direct.data());
      console.log(`zip ${dir || 'query '}model.json via tf.io.fromMemory: largest relative error of the embedding ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-5);
      // The safetensors beside it holds the same weights under PyTorch's names and layouts.
      const st = readSafetensors(files.get(`${dir}model.safetensors`)!);
      expect(st.metadata).toMatchObject({ format: BUNDLE_FORMAT, preset: 'tiny', mocoVersion: 'v2', step: '2' });
      expect(st.tensors.get('stem_conv.weight')!.shape).toEqual([4, 3, 3, 3]);
      expect(st.tensors.get('head_fc2.weight')!.shape).toEqual([128, 8]);
      expect(st.tensors.get('s1b0_down_bn.running_var')!.shape).toEqual([8]);
      tf.dispose([fromZip, direct]);
      model.dispose();
    }
    x.dispose();
    trainer.dispose();
  });

  it('loads a state_dict back into an encoder exactly, and refuses another preset saying what differs, changing nothing', async () => {
    const trainer = await trained();
    const state = await encoderStateDict(trainer.moco.encoderQ);
    const other = new MoCo(trainer.config);
    const x = tf.randomUniform([3, 32, 32, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    expect(relativeError(await other.encoderQ.embed(x, false).data(), await trainer.moco.encoderQ.embed(x, false).data())).toBeGreaterThan(1e-3);
    // DistributedDataParallel's `module.` prefix and PyTorch's batch-norm counters are accepted.
    const wrapped = new Map([...state].map(([k, v]) => [`module.${k}`, v]));
    wrapped.set('module.stem_bn.num_batches_tracked', { shape: [], data: Float32Array.of(3) });
    loadStateDict(other.encoderQ, wrapped);
    expect(relativeError(await other.encoderQ.embed(x, false).data(), await trainer.moco.encoderQ.embed(x, false).data())).toBe(0);

    const resnet8 = new MoCo(mocoConfig('v2', 'resnet8', { batchSize: 8, queueSize: 24, bnSplits: 2 }));
    const before = await resnet8.encoderQ.embed(x, false).data();
    expect(() => loadStateDict(resnet8.encoderQ, state)).toThrow(WeightsMismatchError);
    expect(() => loadStateDict(resnet8.encoderQ, state)).toThrow(
      'holds tiny (widths 4/8, blocks 1/1), MLP head (MoCo v2), 128-d embedding, but this run builds resnet8 (widths 16/32/64, blocks 1/1/1), MLP head (MoCo v2), 128-d embedding',
    );
    const v1 = new MoCo(mocoConfig('v1', 'tiny', { batchSize: 8, queueSize: 24, bnSplits: 2 }));
    expect(() => loadStateDict(v1.encoderQ, state)).toThrow(/MLP head \(MoCo v2\).*but this run builds tiny .*linear head \(MoCo v1\)/);
    const damaged = new Map(state);
    damaged.set('s1b0_conv2.weight', { shape: [8, 8, 3, 1], data: new Float32Array(192) });
    const v2 = new MoCo(trainer.config);
    const v2Before = await v2.encoderQ.embed(x, false).data();
    expect(() => loadStateDict(v2.encoderQ, damaged)).toThrow('has s1b0_conv2.weight of shape [8,8,3,1], expected [8,8,3,3]');
    expect(relativeError(await v2.encoderQ.embed(x, false).data(), v2Before)).toBe(0);
    expect(relativeError(await resnet8.encoderQ.embed(x, false).data(), before)).toBe(0);
    for (const m of [other, resnet8, v1, v2]) m.dispose();
    x.dispose();
    trainer.dispose();
  });
});

describe('weights given as a file (Load weights…)', () => {
  it("names a saved run's or a recording's zip given instead, with where it goes", () => {
    const refusal = (entries: Record<string, Uint8Array>) => {
      try {
        weightsFromFile(zipSync(entries));
      } catch (e) {
        expect(e).toBeInstanceOf(BundleError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const empty = new Uint8Array(0);
    expect(refusal({ 'manifest.json': strToU8('{}'), 'tensors.bin': empty })).toBe(
      'not trained weights but a saved run (a checkpoint): open it with Saved runs’ Open run… (the headless trainer: --resume)',
    );
    expect(refusal({ 'recording.json': strToU8('{}'), 'checkpoint.zip': empty })).toBe('not trained weights but a classroom recording: open it with Classroom replay’s Open a recording…');
    expect(refusal({ 'photo.png': empty })).toBe('the zip has no model.safetensors (is it the app\'s "Download weights" zip?)');
  });

  it('says that a file named .zip is not a zip archive (not "not a safetensors file"); the caller adds what to give instead', () => {
    const notes = strToU8('shopping list: eggs, flour\n');
    let error: unknown = null;
    try {
      weightsFromFile(notes, 'notes.zip');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).message).toBe('is not a zip archive, though its name ends in .zip: a file renamed, or a download cut short');
    // The same bytes under another name are read as safetensors, and refused as such.
    expect(() => weightsFromFile(notes, 'notes.safetensors')).toThrow(/is not a safetensors file/);
  });
});

describe('PyTorch state_dicts when a read-back fails (a lost GPU device)', () => {
  it('leave no transposed kernel behind', async () => {
    const encoder = new Encoder({ ...PRESETS.tiny, head: 'mlp', embeddingDim: 16 }, { seed: 2, bnSplits: 1 });
    const before = tf.memory().numTensors;
    const data = tf.Tensor.prototype.data;
    // Convolution kernels are the transposed ones ([h, w, in, out] → [out, in, h, w]).
    const readBack = vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
      return this.rank === 4 ? Promise.reject(new Error('the GPU device was lost')) : data.call(this);
    } as typeof data);
    try {
      await expect(encoderStateDict(encoder)).rejects.toThrow('the GPU device was lost');
    } finally {
      readBack.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect((await encoderStateDict(encoder)).size).toBe(encoder.parameters.size + encoder.bnStatistics.size);
    encoder.dispose();
  });

  it('leave no tensor behind converting a downloaded model\'s weights', () => {
    const weights = [{ name: 'stem_conv/kernel', shape: [3, 3, 3, 4], data: new Float32Array(108).map((_, i) => i) }];
    const before = tf.memory().numTensors;
    const readBack = vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementationOnce(() => {
      throw new Error('the GPU device was lost');
    });
    try {
      expect(() => tfjsWeightsToStateDict(weights)).toThrow('the GPU device was lost');
    } finally {
      readBack.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
    const converted = tfjsWeightsToStateDict(weights).get('stem_conv.weight')!;
    expect(converted.shape).toEqual([4, 3, 3, 3]);
    // PyTorch's [out, in, h, w]: element [0, 0, 0, 1] is tfjs's [0, 1, 0, 0], at 1·(3·4) = 12.
    expect(converted.data[1]).toBe(12);
  });
});
