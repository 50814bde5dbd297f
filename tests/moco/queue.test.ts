import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyQueue } from '../../src/moco/queue';
import { useCpuBackend } from '../support/helpers';

beforeAll(useCpuBackend);

/** Keys whose every component is the key's id, so a slot's content tells which key it holds. */
function keys(...ids: number[]): tf.Tensor2D {
  return tf.tensor2d(ids.map((id) => [id, id]));
}

async function slotIds(q: KeyQueue): Promise<number[]> {
  const data = await q.keys.data();
  return Array.from({ length: q.capacity }, (_, i) => data[2 * i]);
}

async function bias(q: KeyQueue): Promise<number[]> {
  return Array.from(await q.emptySlotBias().data());
}

describe('KeyQueue', () => {
  it('writes in order and counts the filled slots', async () => {
    const q = new KeyQueue(6, 2);
    expect(q.filled).toBe(0);
    q.enqueue(keys(1, 2), 1);
    q.enqueue(keys(3, 4), 2);
    expect(await slotIds(q)).toEqual([1, 2, 3, 4, 0, 0]);
    expect(q.filled).toBe(4);
    expect(Array.from(q.slotSteps())).toEqual([1, 1, 2, 2, -1, -1]);
  });

  it('wraps around when the capacity is not a multiple of the batch, overwriting the oldest keys', async () => {
    const q = new KeyQueue(5, 2);
    q.enqueue(keys(1, 2), 1);
    q.enqueue(keys(3, 4), 2);
    q.enqueue(keys(5, 6), 3); // 6 wraps to slot 0, over key 1
    expect(await slotIds(q)).toEqual([6, 2, 3, 4, 5]);
    expect(q.filled).toBe(5);
    q.enqueue(keys(7, 8), 4);
    expect(await slotIds(q)).toEqual([6, 7, 8, 4, 5]);
    expect(Array.from(q.slotSteps())).toEqual([3, 4, 4, 2, 3]);
  });

  it('keeps only the newest keys of a batch larger than the queue', async () => {
    const q = new KeyQueue(3, 2);
    q.enqueue(keys(1, 2, 3, 4, 5), 1);
    expect((await slotIds(q)).sort()).toEqual([3, 4, 5]);
    expect(q.filled).toBe(3);
  });

  it('masks exactly the empty slots out of the logits', async () => {
    const q = new KeyQueue(4, 2);
    expect(await bias(q)).toEqual([-1e9, -1e9, -1e9, -1e9]);
    q.enqueue(keys(1, 2, 3), 1);
    expect(await bias(q)).toEqual([0, 0, 0, -1e9]);
    q.enqueue(keys(4, 5), 2);
    expect(await bias(q)).toEqual([0, 0, 0, 0]);
  });

  it('keeps every key, oldest first, when it grows', async () => {
    const q = new KeyQueue(5, 2);
    for (let s = 1; s <= 4; s++) q.enqueue(keys(2 * s - 1, 2 * s), s); // wraps: holds 4..8
    const before = (await slotIds(q)).slice().sort((a, b) => a - b);
    q.resize(8);
    expect(q.capacity).toBe(8);
    expect(q.filled).toBe(5);
    expect(await slotIds(q)).toEqual([4, 5, 6, 7, 8, 0, 0, 0]);
    expect(before).toEqual([4, 5, 6, 7, 8]);
    expect(await bias(q)).toEqual([0, 0, 0, 0, 0, -1e9, -1e9, -1e9]);
    // New keys go after the kept ones.
    q.enqueue(keys(9, 10), 5);
    expect(await slotIds(q)).toEqual([4, 5, 6, 7, 8, 9, 10, 0]);
  });

  it('keeps the newest keys when it shrinks', async () => {
    const q = new KeyQueue(6, 2);
    for (let s = 1; s <= 4; s++) q.enqueue(keys(2 * s - 1, 2 * s), s); // holds 7,8,3,4,5,6
    q.resize(3);
    expect(await slotIds(q)).toEqual([6, 7, 8]);
    expect(q.filled).toBe(3);
    expect(Array.from(q.slotSteps())).toEqual([3, 4, 4]);
    q.enqueue(keys(9), 5); // full: overwrites the oldest (6)
    expect(await slotIds(q)).toEqual([9, 7, 8]);
  });

  it('reports the mean age of the keys it holds', () => {
    const q = new KeyQueue(4, 2);
    expect(q.meanKeyAge(1)).toBe(0);
    q.enqueue(keys(1, 2), 1);
    q.enqueue(keys(3, 4), 2);
    expect(q.meanKeyAge(3)).toBe(1.5); // ages 2, 2, 1, 1
    q.enqueue(keys(5, 6), 3); // replaces the step-1 keys
    expect(q.meanKeyAge(4)).toBe(1.5); // ages 1, 1, 2, 2
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new KeyQueue(0, 2)).toThrow(/positive integer/);
    const q = new KeyQueue(4, 2);
    expect(() => q.resize(2.5)).toThrow(/positive integer/);
  });

  it('keeps the number of live tensors constant across enqueues and resizes', () => {
    const q = new KeyQueue(5, 2);
    q.enqueue(keys(1, 2), 1);
    q.emptySlotBias();
    const live = tf.memory().numTensors;
    for (let s = 2; s < 10; s++) {
      const k = keys(s, s);
      q.enqueue(k, s);
      k.dispose();
      q.emptySlotBias();
    }
    q.resize(9);
    q.resize(5);
    q.emptySlotBias();
    expect(tf.memory().numTensors).toBe(live);
  });
});
