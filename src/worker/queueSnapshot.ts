/** The key queue as the method diagram draws it: a ring of segments with their fill and the keys' age. */
import type { KeyQueue } from '../moco/queue';
import { QUEUE_RING_SEGMENTS, type QueueSnapshot } from './types';

/** A queue of `capacity` slots that holds no key yet. */
export function emptyQueue(capacity: number): QueueSnapshot {
  const segments = Math.max(1, Math.min(QUEUE_RING_SEGMENTS, capacity));
  return { capacity, filled: 0, segmentFill: new Float32Array(segments), segmentAge: new Float32Array(segments).fill(-1), writeSegment: 0 };
}

/** The queue reduced to a ring of at most QUEUE_RING_SEGMENTS segments, for the diagram. */
export function queueSnapshot(queue: KeyQueue): QueueSnapshot {
  return ringOfSlots(queue.slotSteps(), queue.filled);
}

/** The ring of a queue given the step that wrote each slot (−1: empty) and how many hold keys (a replay rebuilds them from its steps). */
export function ringOfSlots(slots: Int32Array, filled: number): QueueSnapshot {
  const capacity = slots.length;
  const snapshot = emptyQueue(capacity);
  snapshot.filled = filled;
  let newest = -1;
  for (const s of slots) if (s > newest) newest = s;
  const segments = snapshot.segmentFill.length;
  for (let seg = 0; seg < segments; seg++) {
    const from = Math.floor((seg * capacity) / segments);
    const to = Math.floor(((seg + 1) * capacity) / segments);
    let count = 0;
    let ageSum = 0;
    for (let i = from; i < to; i++) {
      if (slots[i] < 0) continue;
      count++;
      ageSum += newest - slots[i];
    }
    snapshot.segmentFill[seg] = to > from ? count / (to - from) : 0;
    snapshot.segmentAge[seg] = count > 0 ? ageSum / count : -1;
  }
  // Slots [0, filled) hold keys and the write pointer only wraps once the queue is full; then it
  // sits just after the newest keys.
  let pointer = filled % capacity;
  if (filled === capacity && newest >= 0) {
    for (let i = 0; i < capacity; i++) {
      if (slots[i] === newest && slots[(i + 1) % capacity] !== newest) {
        pointer = (i + 1) % capacity;
        break;
      }
    }
  }
  snapshot.writeSegment = Math.min(segments - 1, Math.floor((pointer * segments) / capacity));
  return snapshot;
}
