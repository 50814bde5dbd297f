/**
 * The replay's queue ring for the diagram, rebuilt from a recorded step alone: the same ring as the
 * Worker draws from its queue's slots, here from a queue written batch by batch.
 */
import { describe, expect, it } from 'vitest';
import { queueOf } from '../../src/ui/useReplay';
import { ringOfSlots } from '../../src/worker/queueSnapshot';
import { STAT_FIELDS, type StepRecord } from '../../src/worker/types';

/** A queue of `capacity` slots after `steps` steps of `batch` keys each: the step that wrote each slot (−1 empty). */
function writtenSlots(capacity: number, batch: number, steps: number): { slots: Int32Array; filled: number } {
  const slots = new Int32Array(capacity).fill(-1);
  let pointer = 0;
  let filled = 0;
  for (let step = 1; step <= steps; step++) {
    for (let k = 0; k < batch; k++) {
      slots[pointer] = step;
      pointer = (pointer + 1) % capacity;
      filled = Math.min(capacity, filled + 1);
    }
  }
  return { slots, filled };
}

function record(step: number, queueFilled: number, queueCapacity: number): StepRecord {
  const r = Object.fromEntries(STAT_FIELDS.map((f) => [f, 0])) as StepRecord;
  return { ...r, step, queueFilled, queueCapacity };
}

describe('the replay queue ring', () => {
  for (const [capacity, batch, steps] of [
    [64, 8, 3],
    [64, 8, 10],
    [4096, 128, 31],
    [4096, 128, 780],
    [300, 128, 7],
  ]) {
    it(`K ${capacity}, batch ${batch}, after step ${steps}: the Worker's ring`, () => {
      const { slots, filled } = writtenSlots(capacity, batch, steps);
      const expected = ringOfSlots(slots, filled);
      const ring = queueOf(record(steps, filled, capacity), batch);
      expect(ring.filled).toBe(expected.filled);
      expect(ring.writeSegment).toBe(expected.writeSegment);
      expect(Array.from(ring.segmentFill)).toEqual(Array.from(expected.segmentFill));
      expect(Array.from(ring.segmentAge)).toEqual(Array.from(expected.segmentAge));
    });
  }
});
