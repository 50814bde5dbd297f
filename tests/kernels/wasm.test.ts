import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCustomKernels } from '../../src/kernels/registry';
import { mocoConfig } from '../../src/moco/config';
import { MoCo } from '../../src/moco/moco';

/** The same computation on the CPU backend and on the wasm backend, as plain arrays. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array }> {
  const out: Record<string, Float32Array> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    useCustomKernels(true);
    const t = tf.tidy(f);
    out[backend] = (await t.data()) as Float32Array;
    t.dispose();
  }
  return { cpu: out.cpu, wasm: out.wasm };
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  Object.assign(tf.backend(), { firstUse: false });
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe("tfjs's WebAssembly backend with our weight gradient (--backend wasm)", () => {
  it('gives the weight gradient of a strided convolution that the CPU backend gives', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
      return tf.grad((filter: tf.Tensor) => tf.conv2d(x, filter as tf.Tensor4D, 2, 'same').square().sum())(w);
    });
    expect(wasm.length).toBe(3 * 3 * 3 * 5);
    expect(maxRelativeError(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('trains MoCo steps with the losses of the CPU backend', async () => {
    const losses: Record<string, number[]> = {};
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      useCustomKernels(true);
      const moco = new MoCo(mocoConfig('v2', 'tiny', { batchSize: 4, queueSize: 8, bnSplits: 2 }));
      const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      losses[backend] = [];
      for (let i = 0; i < 3; i++) losses[backend].push((await moco.step(images)).loss);
      moco.dispose();
      images.dispose();
    }
    // Step 1 has an empty queue (loss 0); the others are ln(K + 1)-sized.
    expect(losses.wasm[1]).toBeGreaterThan(1);
    for (let i = 0; i < 3; i++) expect(losses.wasm[i]).toBeCloseTo(losses.cpu[i], 4);
  }, 120_000);
});
