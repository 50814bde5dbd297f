import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic';
import { mocoConfig } from '../../src/moco/config';
import { datasetIdentity, decodeCheckpoint, emptyHistory, encodeCheckpoint } from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import { useWasmBackend } from '../support/helpers';

// The app's backend without a GPU: what is soaked here (the trainer's tensors, the checkpoint) is
// the same on every backend, and a tiny step takes a tenth of the JavaScript CPU backend's time.
beforeAll(useWasmBackend);

// 100 steps with a checkpoint every 10: the same 10 checkpoints and 20 re-drawn epochs as the
// 500-step version this was (a checkpoint every 50 on 200 images), in a fifth of the steps. A
// tensor that leaks shows at the next step's count, or at the next checkpoint's, whatever the
// run's length. CHECKPOINT_SOAK_STEPS=500 runs the long version (the checkpoint interval stays a
// tenth of the run): 94 s here on WebAssembly, where 500 steps on the CPU backend took 894 s.
const STEPS = Number(process.env.CHECKPOINT_SOAK_STEPS ?? 100);
const EVERY = Math.max(1, Math.round(STEPS / 10));
// An epoch of 5 steps at batch 8, so that the sampler re-draws its order 20 times in the run.
const IMAGES = Math.max(8, Math.round((STEPS / 20) * 8));

describe('checkpoint soak', () => {
  it(`trains ${STEPS} tiny steps with a checkpoint every ${EVERY}: live tensors and checkpoint size stay constant`, async () => {
    const config = mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 64, bnSplits: 2, schedule: { totalSteps: STEPS } });
    const dataset = generateSynthetic({ size: IMAGES, seed: 3, split: 'train' });
    const identity = await datasetIdentity(dataset);
    const trainer = new Trainer(config, dataset);
    const liveAfterStep: number[] = [];
    const sizes: number[] = [];
    const started = performance.now();
    let saveMs = 0;
    for (let i = 0; i < STEPS; i++) {
      const s = await trainer.step();
      liveAfterStep.push(s.liveTensors);
      if (s.step % EVERY === 0) {
        const t0 = performance.now();
        const bytes = await encodeCheckpoint(trainer, { dataset: identity, history: emptyHistory() });
        saveMs += performance.now() - t0;
        sizes.push(bytes.length);
        expect(tf.memory().numTensors).toBe(s.liveTensors);
        if (s.step === STEPS) expect((await decodeCheckpoint(bytes, 'soak.zip')).manifest.step).toBe(STEPS);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    // From the first step's end on (the first step makes the velocities and the empty-slot mask), nothing accumulates.
    expect(new Set(liveAfterStep).size).toBe(1);
    expect(sizes.length).toBe(10);
    // The same tensors every time; only the manifest's numbers change length by a few bytes.
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(64);
    console.log(
      `soak: ${STEPS} steps in ${seconds.toFixed(1)} s, ${liveAfterStep[0]} live tensors after every step, ` +
        `checkpoints ${Math.min(...sizes)}–${Math.max(...sizes)} bytes, ${(saveMs / sizes.length).toFixed(0)} ms each`,
    );
    trainer.dispose();
  }, 3_600_000);
});
