import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { generateSynthetic } from '../../src/data/synthetic';
import { loadLayersModelFiles } from '../../src/io/layersModel';
import { unzipBundle } from '../../src/io/modelBundle';
import type { StatsBatch, TrainingSetup } from '../../src/worker/types';
import { TrainingService } from '../../src/worker/training';
import { TINY_SETUP } from './setup';

const SETUP: TrainingSetup = TINY_SETUP;

/** The training core the Worker exposes, driven directly on the CPU backend. */
describe('TrainingService (CPU backend)', () => {
  const batches: StatsBatch[] = [];
  const service = new TrainingService();

  beforeAll(async () => {
    const backend = await service.init((b) => batches.push(b), { backends: ['cpu'] });
    expect(backend.backend).toBe('cpu');
    expect(backend.fallbackReason).toMatch(/WebGPU not tried/);
    const info = await service.configure(SETUP);
    expect(info.datasetSize).toBe(64);
    expect(info.batchesPerEpoch).toBe(8);
    expect(info.parameterCount).toBeGreaterThan(0);
  });

  afterAll(() => service.dispose());

  it('steps while paused and reports the step', async () => {
    const r = await service.step();
    expect(r.step).toBe(1);
    expect(r.queueFilled).toBe(8);
    expect(r.queueCapacity).toBe(32);
    expect(Number.isFinite(r.loss)).toBe(true);
    const last = batches.at(-1)!;
    expect(last.status.step).toBe(1);
    expect(last.status.state).toBe('paused');
    expect(last.queue.filled).toBe(8);
  });

  it('trains in a loop until paused; parameter changes apply between steps and are recorded with their step', async () => {
    const waitForStep = async (step: number) => {
      while (service.status().step < step) await new Promise((r) => setTimeout(r, 10));
    };
    await service.start();
    await waitForStep(2);
    const change = await service.setParams({ momentum: 0.5, queueSize: 64 });
    expect(change.params).toEqual({ momentum: 0.5, queueSize: 64 });
    await waitForStep(change.fromStep + 1);
    await service.pause();
    const stepAtPause = service.status().step;
    expect(service.status().state).toBe('paused');
    await new Promise((r) => setTimeout(r, 100));
    expect(service.status().step).toBe(stepAtPause);
    expect(stepAtPause).toBeGreaterThan(change.fromStep);

    const steps = batches.flatMap((b) => Array.from(b.columns.step));
    expect(steps).toEqual(Array.from({ length: stepAtPause }, (_, i) => i + 1));
    const momentum = batches.flatMap((b) => Array.from(b.columns.momentum));
    const capacity = batches.flatMap((b) => Array.from(b.columns.queueCapacity));
    // Exactly the steps from `fromStep` on ran with the new values.
    for (let i = 0; i < steps.length; i++) {
      expect(momentum[i]).toBe(steps[i] >= change.fromStep ? 0.5 : 0.99);
      expect(capacity[i]).toBe(steps[i] >= change.fromStep ? 64 : 32);
    }
    const markers = batches.flatMap((b) => b.paramChanges);
    expect(markers).toEqual([change]);
    expect(batches.at(-1)!.queue.capacity).toBe(64);
  });

  it('exports weights that give the same embedding as the model in the worker', async () => {
    const bundle = await service.exportWeights({ includeKey: true });
    expect(bundle.name).toMatch(/^moco-tiny-v[12]-step\d+\.zip$/);
    const files = unzipBundle(bundle.zip);
    expect([...files.keys()].sort()).toEqual(['README.txt', 'key/model.json', 'key/model.safetensors', 'key/weights.bin', 'metadata.json', 'model.json', 'model.safetensors', 'weights.bin']);
    const models = ['', 'key/'].map((dir) => ({ modelJson: new TextDecoder().decode(files.get(`${dir}model.json`)), weights: files.get(`${dir}weights.bin`)!.slice().buffer }));
    const fixed = generateSynthetic({ size: 4, seed: 99, split: 'test' });
    const input = Float32Array.from(fixed.images, (v) => v / 255);
    expect(input.length).toBe(4 * IMAGE_BYTES);
    for (const [model, which] of [
      [models[0], 'query'],
      [models[1], 'key'],
    ] as const) {
      const fromWorker = await service.embed(input, which);
      const loaded = await loadLayersModelFiles({ modelJson: model.modelJson, weights: model.weights });
      const out = tf.tidy(() => {
        const p = loaded.predict(tf.tensor4d(input, [4, 32, 32, 3])) as tf.Tensor2D;
        return p.div(tf.norm(p, 'euclidean', 1, true));
      });
      const fromFile = await out.data();
      out.dispose();
      loaded.dispose();
      expect(fromFile.length).toBe(fromWorker.length);
      let maxDiff = 0;
      for (let i = 0; i < fromFile.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fromFile[i] - fromWorker[i]));
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });

  it('resets to a fresh run with the current parameters', async () => {
    const before = service.status().runId;
    await service.reset();
    const status = service.status();
    expect(status.runId).toBe(before + 1);
    expect(status.step).toBe(0);
    expect(status.state).toBe('idle');
    const last = batches.at(-1)!;
    expect(last.status.runId).toBe(before + 1);
    expect(last.params.momentum).toBe(0.5);
    expect(last.queue.capacity).toBe(64);
  });

  it('stops at the step budget', async () => {
    await service.configure({ ...SETUP, stepBudget: 3 });
    await service.start();
    for (let i = 0; i < 200 && service.status().state === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(service.status()).toMatchObject({ state: 'finished', step: 3 });
    await service.start();
    expect(service.status().step).toBe(3);
  });
});
