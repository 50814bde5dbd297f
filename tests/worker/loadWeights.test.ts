import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { unzipBundle } from '../../src/io/modelBundle';
import { TrainingService } from '../../src/worker/training';
import { TINY_SETUP } from './setup';

/** "Load weights…" in the app: the Worker's service opens a downloaded zip or a safetensors file. */
describe('TrainingService.loadWeights (WebAssembly backend)', () => {
  const trained = new TrainingService();
  const fresh = new TrainingService();
  const input = Float32Array.from(generateSynthetic({ size: 3, seed: 11, split: 'test' }).images, (v) => v / 255);
  const largestDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  beforeAll(async () => {
    for (const s of [trained, fresh]) {
      await s.init(() => {}, { backends: ['wasm'] });
      await s.configure(TINY_SETUP);
    }
    await trained.step();
    await trained.step();
  });
  afterAll(() => {
    trained.dispose();
    fresh.dispose();
  });

  it('starts a new run from the downloaded zip or its safetensors: both encoders embed like the trained model', async () => {
    const bundle = await trained.exportWeights({ includeKey: false });
    const want = await trained.embed(input, 'query');
    expect(largestDiff(await fresh.embed(input, 'query'), want)).toBeGreaterThan(1e-3);
    for (const [bytes, name] of [
      [bundle.zip, bundle.name],
      [unzipBundle(bundle.zip).get('model.safetensors')!, 'model.safetensors'],
    ] as const) {
      await fresh.step();
      const model = await fresh.loadWeights(bytes, name);
      expect(model.parameterCount).toBeGreaterThan(0);
      expect(fresh.status().step).toBe(0);
      expect(largestDiff(await fresh.embed(input, 'query'), want)).toBe(0);
      expect(largestDiff(await fresh.embed(input, 'key'), want)).toBe(0);
    }
  });

  it('refuses a file that is not weights, or weights of another preset, saying why, and keeps the run', async () => {
    await fresh.step();
    const before = await fresh.embed(input, 'query');
    const stepBefore = fresh.status().step;
    await expect(fresh.loadWeights(new TextEncoder().encode('not weights at all'), 'notes.txt')).rejects.toThrow(/^notes\.txt: is not a safetensors file/);
    // Named as a zip: said to be no zip (not "not a safetensors file"), with what to give instead.
    await expect(fresh.loadWeights(new TextEncoder().encode('not weights at all'), 'notes.zip')).rejects.toThrow(
      /^notes\.zip: is not a zip archive, though its name ends in \.zip: a file renamed, or a download cut short \(give the downloaded zip or a \.safetensors file\)$/,
    );
    const other = new TrainingService();
    await other.init(() => {}, { backends: ['wasm'] });
    await other.configure({ ...TINY_SETUP, version: 'v1' });
    const v1 = await other.exportWeights({ includeKey: false });
    other.dispose();
    await expect(fresh.loadWeights(v1.zip, v1.name)).rejects.toThrow(
      `${v1.name} holds tiny (widths 4/8, blocks 1/1), linear head (MoCo v1), 128-d embedding, but this run builds tiny (widths 4/8, blocks 1/1), MLP head (MoCo v2), 128-d embedding: choose its preset and MoCo version in the setup, Reset, then load it again`,
    );
    expect(fresh.status().step).toBe(stepBefore);
    expect(largestDiff(await fresh.embed(input, 'query'), before)).toBe(0);
  });
});
