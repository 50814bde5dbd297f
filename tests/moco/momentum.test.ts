import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mocoConfig } from '../../src/moco/config';
import { CONSISTENCY_EVERY, MoCo } from '../../src/moco/moco';
import { keyLag, momentumUpdateWithLag } from '../../src/moco/momentum';
import { useWasmBackend } from '../support/helpers';

beforeAll(useWasmBackend);

const tiny = (overrides: Parameters<typeof mocoConfig>[2] = {}) =>
  mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 20, bnSplits: 2, ...overrides });

describe("the key encoder's lag ‖θk − θq‖ / ‖θq‖", () => {
  const shapes = [[3, 3, 2, 4], [5], [6, 7]];
  /** An encoder's parameters' values, drawn from `seed`. */
  const values = (seed: number) => shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', seed + i).dataSync() as Float32Array);
  const asMap = (arrays: Float32Array[]) => new Map(arrays.map((a, i) => [`p${i}`, tf.variable(tf.tensor(a, shapes[i]))]));

  it('matches a direct computation over every parameter (m = 1: the update leaves θk as it is)', async () => {
    const q = values(10);
    const k = values(20);
    const key = asMap(k);
    const sums = momentumUpdateWithLag(key, asMap(q), 1);
    let distance = 0;
    let size = 0;
    q.forEach((qa, i) =>
      qa.forEach((qv, j) => {
        distance += (k[i][j] - qv) ** 2;
        size += qv ** 2;
      }),
    );
    const [d, s] = Array.from(await sums.data());
    expect(d).toBeCloseTo(distance, 3);
    expect(s).toBeCloseTo(size, 3);
    expect(keyLag([d, s])).toBeCloseTo(Math.sqrt(distance / size), 6);
    expect(Array.from(await key.get('p2')!.data())).toEqual(Array.from(k[2]));
    // Sizes that make the lag easy to check by hand: θq = (3, 4), θk = (0, 0) trails by all of it.
    const lag = momentumUpdateWithLag(new Map([['w', tf.variable(tf.tensor1d([0, 0]))]]), new Map([['w', tf.variable(tf.tensor1d([3, 4]))]]), 1);
    expect(keyLag(Array.from(await lag.data()))).toBeCloseTo(1, 6);
  });

  it('is taken with the momentum update: θk updated as m·θk + (1 − m)·θq, and the sums of the updated θk', async () => {
    const q = values(30);
    const k = values(40);
    const key = asMap(k);
    const m = 0.9;
    const sums = momentumUpdateWithLag(key, asMap(q), m);
    let distance = 0;
    let size = 0;
    q.forEach((qa, i) =>
      qa.forEach((qv, j) => {
        distance += (m * k[i][j] + (1 - m) * qv - qv) ** 2;
        size += qv ** 2;
      }),
    );
    const [d, s] = Array.from(await sums.data());
    expect(d).toBeCloseTo(distance, 3);
    expect(s).toBeCloseTo(size, 3);
    // After the update θk − θq = m·(θk₀ − θq): the lag shrinks by m exactly.
    const before = momentumUpdateWithLag(asMap(k), asMap(q), 1);
    expect(keyLag([d, s]) / keyLag(Array.from(await before.data()))).toBeCloseTo(m, 5);
    const updated = await key.get('p1')!.data();
    k[1].forEach((kv, j) => expect(updated[j]).toBeCloseTo(m * kv + (1 - m) * q[1][j], 6));
  });

  it('is read with every step, grows with m, and is 0 one step after m is set to 0 (consistency 1)', async () => {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const moco = new MoCo(tiny({ momentum: 0.99, schedule: { baseLr: 0.5 } }));
    const stats = [];
    for (let i = 0; i < CONSISTENCY_EVERY; i++) stats.push(await moco.step(images));
    // With m = 0.99 the key encoder stays near where it started while θq moves on.
    expect(stats[0].keyLag).toBeGreaterThan(0);
    expect(stats[CONSISTENCY_EVERY - 1].keyLag).toBeGreaterThan(stats[1].keyLag);
    // The first step probes; steps between probes carry its value; the probe at step CONSISTENCY_EVERY sees encoders that differ.
    expect(stats.slice(0, -1).map((s) => s.keyConsistency)).toEqual(Array(CONSISTENCY_EVERY - 1).fill(stats[0].keyConsistency));
    const probed = stats[CONSISTENCY_EVERY - 1].keyConsistency;
    expect(probed).toBeGreaterThan(0.5);
    expect(probed).toBeLessThan(0.9999);
    for (let i = 0; i < CONSISTENCY_EVERY - 1; i++) await moco.step(images);

    moco.setParams({ momentum: 0 });
    const s = await moco.step(images);
    expect([s.step, s.momentum]).toEqual([2 * CONSISTENCY_EVERY, 0]);
    expect(s.keyLag).toBe(0);
    // One encoder twice: the same embeddings of the probe images.
    expect(s.keyConsistency).toBeCloseTo(1, 5);
    moco.dispose();
  });

  it('leaves training untouched: the same losses and parameters with and without the measurements', async () => {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    const runs = [];
    for (const measure of [true, false]) {
        const moco = new MoCo(tiny({ momentum: 0.9, schedule: { baseLr: 0.5 } }));
        moco.measureKeyEncoder = measure;
        const stats = [];
        for (let i = 0; i < CONSISTENCY_EVERY + 1; i++) stats.push(await moco.step(images));
        const stateK = [...moco.encoderK.bnStatistics.values()].map((v) => Array.from(v.dataSync()));
        moco.dispose();
        runs.push({ losses: stats.map((s) => s.loss), lags: stats.map((s) => s.keyLag), stateK });
    }
    expect(runs[0].losses).toEqual(runs[1].losses);
    expect(runs[0].stateK).toEqual(runs[1].stateK);
    expect(runs[0].lags.every((l) => l > 0)).toBe(true);
    expect(runs[1].lags.every((l) => Number.isNaN(l))).toBe(true);
  });
});
