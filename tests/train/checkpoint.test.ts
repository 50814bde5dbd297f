import * as tf from '@tensorflow/tfjs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { mocoConfig } from '../../src/moco/config';
import {
  CheckpointError,
  datasetIdentity,
  datasetMismatch,
  decodeCheckpoint,
  encodeCheckpoint,
  emptyHistory,
  loadQueryEncoder,
  restoreTrainer,
  type RunHistory,
} from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import { useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);

// A queue of 20 slots with 8 keys a step wraps at step 3: pointer, fill and slot steps all matter.
const config = mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 20, bnSplits: 2, schedule: { totalSteps: 12, warmupSteps: 2 } });
// 24 images: 3 batches an epoch, so a few steps cross epochs and the sampler re-draws its order.
const dataset = generateSynthetic({ size: 24, seed: 5, split: 'train' });

/** Every value of the training state, copied out, in a form `toEqual` compares bit for bit. */
function fullState(t: Trainer) {
  const values = (v: tf.Tensor) => Array.from(v.dataSync());
  const all = (m: ReadonlyMap<string, tf.Tensor>) => Object.fromEntries([...m].map(([k, v]) => [k, values(v)]));
  const s = t.moco.trainingState();
  return {
    queryParams: all(t.moco.encoderQ.parameters),
    queryBn: all(t.moco.encoderQ.bnStatistics),
    keyParams: all(t.moco.encoderK.parameters),
    keyBn: all(t.moco.encoderK.bnStatistics),
    velocities: all(s.velocities),
    step: s.step,
    rng: s.rng,
    live: s.live,
    queueKeys: values(t.moco.queue.keys),
    queueSlotSteps: Array.from(t.moco.queue.slotSteps()),
    queuePosition: t.moco.queue.position,
    sampler: { ...t.sampler.state(), order: Array.from(t.sampler.state().order) },
  };
}

async function runSteps(t: Trainer, n: number): Promise<number[]> {
  const losses: number[] = [];
  for (let i = 0; i < n; i++) losses.push((await t.step()).loss);
  return losses;
}

const history: RunHistory = {
  ...emptyHistory(),
  knn: [{ step: 0, output: 'backbone', k: 200, accuracy: 0.25, perClass: [0.5, null], bankSize: 24, queryCount: 8, seconds: 0.1 }],
};

describe('checkpoint', () => {
  it('round-trips every part of the training state bit for bit', async () => {
    const id = await datasetIdentity(dataset);
    const a = new Trainer(config, dataset);
    await runSteps(a, 4);
    a.setParams({ momentum: 0.95, temperature: 0.3, learningRate: 0.02 }); // live changes are state too
    const bytes = await encodeCheckpoint(a, { dataset: id, history, client: { note: 'kept' } });
    const ck = await decodeCheckpoint(bytes, 'run.zip');
    expect(ck.manifest.setup).toEqual({ preset: 'tiny', method: 'v2', batchSize: 8, config, dataset: id });
    expect(ck.manifest.history).toEqual(history);
    expect(ck.manifest.client).toEqual({ note: 'kept' });

    const before = tf.memory().numTensors;
    const b = restoreTrainer(ck, dataset);
    const expected = fullState(a);
    expect(expected.queuePosition).toEqual({ pointer: 12, filled: 20 }); // wrapped: 4 × 8 keys in 20 slots
    expect(fullState(b)).toEqual(expected);
    expect(Object.keys(expected.velocities).length).toBe(a.moco.encoderQ.parameters.size);
    // The restored run holds as many tensors as the saved one: nothing was left behind by the load.
    expect(tf.memory().numTensors - before).toBe(countTensors(a));
    // Saving the restored run gives the same tensors byte for byte.
    const again = await decodeCheckpoint(await encodeCheckpoint(b, { dataset: id, history }), 'again.zip');
    expect(again.manifest.tensorsSha256).toBe(ck.manifest.tensorsSha256);
    a.dispose();
    b.dispose();
  });

  it('resumes exactly: N steps + save + load + N steps is the run of 2N steps', async () => {
    const n = 4;
    const straight = new Trainer(config, dataset);
    const straightLosses = await runSteps(straight, 2 * n);

    const first = new Trainer(config, dataset);
    const firstLosses = await runSteps(first, n);
    const bytes = await encodeCheckpoint(first, { dataset: await datasetIdentity(dataset), history: emptyHistory() });
    first.dispose();
    const resumed = restoreTrainer(await decodeCheckpoint(bytes, 'ck.zip'), dataset);
    const secondLosses = await runSteps(resumed, n);

    expect([...firstLosses, ...secondLosses]).toEqual(straightLosses);
    const s = fullState(straight);
    const r = fullState(resumed);
    for (const part of ['queryParams', 'keyParams', 'velocities'] as const) {
      for (const [name, values] of Object.entries(s[part])) {
        const other = r[part][name];
        expect(Math.max(...values.map((x, i) => Math.abs(x - other[i])))).toBeLessThanOrEqual(1e-6);
      }
    }
    expect(r.step).toBe(2 * n);
    expect(r.queueSlotSteps).toEqual(s.queueSlotSteps);
    straight.dispose();
    resumed.dispose();
  });

  it('extends the step budget on resume: the schedule then ends at the new budget', async () => {
    const t = new Trainer(config, dataset);
    await runSteps(t, 6);
    const ck = await decodeCheckpoint(await encodeCheckpoint(t, { dataset: await datasetIdentity(dataset), history: emptyHistory() }), 'ck.zip');
    const asSaved = (await t.step()).learningRate;
    t.dispose();
    const longer = restoreTrainer(ck, dataset, { totalSteps: 40 });
    expect(longer.config.schedule.totalSteps).toBe(40);
    const s = await longer.step();
    // Step 7 is 4 steps into a cosine that now spans steps 2..40 (it spanned 2..12).
    const cosineAt = (total: number) => config.schedule.baseLr * 0.5 * (1 + Math.cos((Math.PI * 4) / (total - 2)));
    expect(asSaved).toBeCloseTo(cosineAt(12), 12);
    expect(s.learningRate).toBeCloseTo(cosineAt(40), 12);
    longer.dispose();
  });

  it('refuses truncated, garbled, foreign and other-version files with a message naming the file', async () => {
    const t = new Trainer(config, dataset);
    await runSteps(t, 1);
    const good = await encodeCheckpoint(t, { dataset: await datasetIdentity(dataset), history: emptyHistory() });
    t.dispose();
    const rezip = (edit: (manifest: Record<string, unknown>) => void) => {
      const files = unzipSync(good);
      const manifest = JSON.parse(strFromU8(files['manifest.json']));
      edit(manifest);
      return zipSync({ ...files, 'manifest.json': strToU8(JSON.stringify(manifest)) });
    };
    const garbled = good.slice();
    // Flip bytes in the middle of the stored (uncompressed) tensors.
    for (let i = 0; i < 16; i++) garbled[Math.floor(good.length / 2) + i] ^= 0x5a;
    const cases: [Uint8Array, RegExp][] = [
      [good.slice(0, Math.floor(good.length * 0.6)), /^ck\.zip: not a readable checkpoint: the zip is truncated or damaged/],
      [garbled, /^ck\.zip: the checkpoint's tensors are damaged/],
      [strToU8('{"not": "a zip"}'), /^ck\.zip: not a readable checkpoint/],
      [zipSync({ 'model.json': strToU8('{}') }), /^ck\.zip: not a MoCo checkpoint: it has no manifest\.json/],
      // The app's other zips: said where they go.
      [
        zipSync({ 'model.json': strToU8('{}'), 'model.safetensors': new Uint8Array(8), 'metadata.json': strToU8('{}') }),
        /^ck\.zip: not a saved run but trained weights \(a Download weights zip\): load them with Load weights… \(the headless trainer: --init\)$/,
      ],
      [zipSync({ 'recording.json': strToU8('{}'), 'checkpoint.zip': new Uint8Array(0) }), /^ck\.zip: not a saved run but a classroom recording: open it with Classroom replay’s Open a recording…$/],
      [rezip((m) => (m.version = 2)), /^ck\.zip: checkpoint format version 2; this version of the trainer reads version 1 only/],
      [rezip((m) => (m.format = 'something-else')), /^ck\.zip: not a MoCo checkpoint/],
      [rezip((m) => delete m.queue), /^ck\.zip: the checkpoint's manifest\.json is incomplete or damaged/],
    ];
    for (const [bytes, message] of cases) {
      const error = await decodeCheckpoint(bytes, 'ck.zip').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(message);
    }
    // A checkpoint whose tensors do not fit its setup is refused on restore, and leaves no tensor behind.
    const wrongPreset = await decodeCheckpoint(
      rezip((m) => ((m.setup as { config: { arch: { widths: number[] } } }).config.arch.widths = [4, 16])),
      'ck.zip',
    );
    const before = tf.memory().numTensors;
    expect(() => restoreTrainer(wrongPreset, dataset)).toThrow(/^ck\.zip: does not fit its own setup: tensor 'query\/param\/.*' has shape/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('recognises its dataset and says what differs in another', async () => {
    const id = await datasetIdentity(dataset);
    expect(await datasetIdentity(generateSynthetic({ size: 24, seed: 5, split: 'train' }))).toEqual(id);
    expect(datasetMismatch(id, id)).toBeNull();
    const otherImages = await datasetIdentity(generateSynthetic({ size: 24, seed: 6, split: 'train' }));
    expect(datasetMismatch(id, otherImages)).toMatch(/^the same name and size, but other images or labels \(content hash [0-9a-f]{12}…, recorded [0-9a-f]{12}…\)$/);
    const bigger = await datasetIdentity(generateSynthetic({ size: 32, seed: 5, split: 'train' }));
    expect(datasetMismatch(id, bigger)).toBe('it has 32 images, not 24');
    const relabelled = await datasetIdentity({ ...dataset, labels: dataset.labels.map((l) => (l + 1) % dataset.classNames.length) });
    expect(datasetMismatch(id, relabelled)).toMatch(/other images or labels/);
  });
});

function countTensors(t: Trainer): number {
  const s = t.moco.trainingState();
  const q = t.moco.encoderQ;
  const k = t.moco.encoderK;
  // Parameters and moving statistics of both encoders, the velocities, the queue's keys and the
  // loss's gradient seed (the queue's cached empty-slot bias and the constant it is cut from are made
  // by the first step after a restore, so not counted here).
  return q.parameters.size + q.bnStatistics.size + k.parameters.size + k.bnStatistics.size + s.velocities.size + 2;
}

describe('a new run from a checkpoint (--init)', () => {
  it("takes the saved query encoder's weights and moving statistics, and refuses another architecture untouched", async () => {
    const a = new Trainer(config, dataset);
    await runSteps(a, 2);
    const ck = await decodeCheckpoint(await encodeCheckpoint(a, { dataset: await datasetIdentity(dataset), history: emptyHistory() }), 'run.zip');
    const values = (m: ReadonlyMap<string, tf.Tensor>) => Object.fromEntries([...m].map(([k, v]) => [k, Array.from(v.dataSync())]));
    const fresh = new Trainer(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 20, bnSplits: 2, seed: 9 }), dataset);
    expect(values(fresh.moco.encoderQ.parameters)).not.toEqual(values(a.moco.encoderQ.parameters));
    loadQueryEncoder(ck, fresh.moco.encoderQ);
    expect(values(fresh.moco.encoderQ.parameters)).toEqual(values(a.moco.encoderQ.parameters));
    expect(values(fresh.moco.encoderQ.bnStatistics)).toEqual(values(a.moco.encoderQ.bnStatistics));

    const other = new Trainer(mocoConfig('v1', 'tiny', { batchSize: 8, queueSize: 20, bnSplits: 2 }), dataset);
    const before = values(other.moco.encoderQ.parameters);
    expect(() => loadQueryEncoder(ck, other.moco.encoderQ)).toThrow(/run\.zip: holds a tiny run \(.*mlp head.*\), but this run builds .*linear head/);
    expect(values(other.moco.encoderQ.parameters)).toEqual(before);
    for (const t of [a, fresh, other]) t.dispose();
  });
});
