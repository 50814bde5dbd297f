import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** Marks an empty slot in `writtenAt`. */
const EMPTY = -1;
/** Added to the logit of an empty slot: exp() of it is exactly 0 in float32. */
const EMPTY_LOGIT = -1e9;

/**
 * Writes `rows` (`[n, dim]`, n ≤ capacity) into the ring buffer `target` (`[capacity, dim]`) from
 * row `start` on, wrapping around to row 0.
 */
export const writeRing = overridable('writeRing', (target: tf.Variable, rows: tf.Tensor2D, start: number): void => {
  const [cap, dim] = target.shape;
  const n = rows.shape[0];
  const firstRun = Math.min(n, cap - start);
  const wrapped = n - firstRun;
  const next = tf.tidy(() => {
    const parts: tf.Tensor2D[] = [];
    if (wrapped > 0) parts.push(rows.slice([firstRun, 0], [wrapped, dim]));
    if (start > wrapped) parts.push(target.slice([wrapped, 0], [start - wrapped, dim]) as tf.Tensor2D);
    parts.push(rows.slice([0, 0], [firstRun, dim]));
    const after = start + firstRun;
    if (after < cap) parts.push(target.slice([after, 0], [cap - after, dim]) as tf.Tensor2D);
    return tf.concat(parts, 0);
  });
  target.assign(next);
  next.dispose();
});

/**
 * The dictionary of negative keys: a `[capacity, dim]` tensor on the active backend (GPU memory on
 * WebGPU) used as a ring buffer. The filled slots are always `[0, filled)`: writes go to the
 * pointer, which only wraps once the queue is full, and a resize re-packs the keys oldest first.
 * Shapes stay fixed while the capacity does, so GPU programs are compiled once.
 */
export class KeyQueue {
  private keysVar: tf.Variable;
  /** For each slot, the training step whose keys it holds, or EMPTY. CPU-side bookkeeping only. */
  private writtenAt: Int32Array;
  private pointer = 0;
  private filledSlots = 0;
  private maskCache: { filled: number; capacity: number; bias: tf.Tensor2D; ramp: tf.Tensor2D } | null = null;

  constructor(
    capacity: number,
    readonly dim: number,
  ) {
    checkCapacity(capacity);
    this.keysVar = tf.tidy(() => tf.variable(tf.zeros([capacity, dim]), false));
    this.writtenAt = new Int32Array(capacity).fill(EMPTY);
  }

  get capacity(): number {
    return this.writtenAt.length;
  }

  get filled(): number {
    return this.filledSlots;
  }

  /** All slots, filled or not (`[capacity, dim]`); pair with `emptySlotBias()`. The queue's own variable: read it, never dispose it. */
  get keys(): tf.Tensor2D {
    return this.keysVar as tf.Tensor2D;
  }

  /** Writes `keys` ([n, dim]) at the pointer, wrapping around; the oldest keys are overwritten first. */
  enqueue(keys: tf.Tensor2D, step: number): void {
    const cap = this.capacity;
    let n = keys.shape[0];
    // More keys than slots: only the newest `cap` can stay.
    const incoming = n > cap ? keys.slice([n - cap, 0], [cap, this.dim]) : keys;
    n = Math.min(n, cap);
    const start = this.pointer;
    writeRing(this.keysVar, incoming, start);
    if (incoming !== keys) incoming.dispose();
    for (let i = 0; i < n; i++) this.writtenAt[(start + i) % cap] = step;
    this.pointer = (start + n) % cap;
    this.filledSlots = Math.min(cap, this.filledSlots + n);
  }

  /**
   * Keeps the CPU marks (pointer, fill, each slot's step) and returns what puts them back, for a
   * step that fails after its keys may have gone in. The rows themselves are not copied (that would
   * cost GPU work every step): after a failed write they hold this step's keys, but the pointer
   * goes back, so the retried step writes the same rows again.
   */
  keepForUndo(): () => void {
    const cap = this.capacity;
    const { pointer, filledSlots } = this;
    const writtenAt = this.writtenAt.slice();
    return () => {
      // A resize during the step re-packed the queue around its own marks: those stand.
      if (this.capacity !== cap) return;
      this.writtenAt = writtenAt;
      this.pointer = pointer;
      this.filledSlots = filledSlots;
    };
  }

  /**
   * Changes the capacity between steps. Growing keeps every key; shrinking keeps the newest. The
   * kept keys are re-packed oldest first into `[0, kept)` and the pointer goes after them.
   */
  resize(capacity: number): void {
    checkCapacity(capacity);
    if (capacity === this.capacity) return;
    const order = this.slotsOldestFirst();
    const kept = order.slice(Math.max(0, order.length - capacity));
    const next = tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      if (kept.length > 0) parts.push(tf.gather(this.keysVar, tf.tensor1d(kept, 'int32')) as tf.Tensor2D);
      if (capacity > kept.length) parts.push(tf.zeros([capacity - kept.length, this.dim]));
      return tf.concat(parts, 0);
    });
    // The new keys exist before the old go: a failed allocation leaves the queue as it was.
    let keys: tf.Variable;
    try {
      keys = tf.variable(next, false);
    } finally {
      next.dispose();
    }
    this.keysVar.dispose();
    this.keysVar = keys;
    const writtenAt = new Int32Array(capacity).fill(EMPTY);
    kept.forEach((slot, i) => (writtenAt[i] = this.writtenAt[slot]));
    this.writtenAt = writtenAt;
    this.filledSlots = kept.length;
    this.pointer = kept.length % capacity;
  }

  /**
   * `[1, capacity]`: 0 for filled slots, a huge negative number for empty ones, added to the negative
   * logits. Kept by the queue until its fill or capacity changes: read it, never dispose it.
   */
  emptySlotBias(): tf.Tensor2D {
    const c = this.maskCache;
    if (c && c.filled === this.filledSlots && c.capacity === this.capacity) return c.bias;
    c?.bias.dispose();
    // The bias for any fill is a window of [0 × capacity, EMPTY_LOGIT × capacity], made on the device
    // once per capacity: the window's offset goes to the slice as a number in its uniforms, where a
    // mask made from `filled` would upload tensors from the CPU each time the queue grows.
    const ramp = c?.capacity === this.capacity ? c.ramp : tf.tidy(() => tf.concat([tf.fill([1, this.capacity], 0), tf.fill([1, this.capacity], EMPTY_LOGIT)], 1) as tf.Tensor2D);
    if (c && c.ramp !== ramp) c.ramp.dispose();
    const bias = tf.slice(ramp, [0, this.capacity - this.filledSlots], [1, this.capacity]) as tf.Tensor2D;
    this.maskCache = { filled: this.filledSlots, capacity: this.capacity, bias, ramp };
    return bias;
  }

  /** Mean age in steps of the keys in the queue at `currentStep` (0 when empty). */
  meanKeyAge(currentStep: number): number {
    if (this.filledSlots === 0) return 0;
    let sum = 0;
    for (let i = 0; i < this.filledSlots; i++) sum += currentStep - this.writtenAt[i];
    return sum / this.filledSlots;
  }

  /** The step that wrote each slot (−1 for empty), for tests and the queue diagram. */
  slotSteps(): Int32Array {
    return this.writtenAt.slice();
  }

  /** The pointer and fill, with `slotSteps()` and `keys` all a checkpoint needs to rebuild the queue. */
  get position(): { pointer: number; filled: number } {
    return { pointer: this.pointer, filled: this.filledSlots };
  }

  /** Puts back a saved queue (a resumed run): `keys` is `[capacity, dim]`, `slotSteps` one entry per slot. */
  restore(keys: tf.Tensor2D, slotSteps: Int32Array, position: { pointer: number; filled: number }): void {
    const capacity = slotSteps.length;
    checkCapacity(capacity);
    const { pointer, filled } = position;
    if (keys.shape[0] !== capacity || keys.shape[1] !== this.dim) {
      throw new Error(`queue keys of shape [${keys.shape}] do not fit ${capacity} slots of ${this.dim}`);
    }
    if (!(Number.isInteger(filled) && filled >= 0 && filled <= capacity && Number.isInteger(pointer) && pointer >= 0 && pointer < capacity)) {
      throw new Error(`queue position (pointer ${pointer}, filled ${filled}) does not fit ${capacity} slots`);
    }
    if (capacity === this.capacity) {
      this.keysVar.assign(keys);
    } else {
      this.keysVar.dispose();
      this.keysVar = tf.tidy(() => tf.variable(keys.clone(), false));
    }
    this.writtenAt = slotSteps.slice();
    this.pointer = pointer;
    this.filledSlots = filled;
  }

  dispose(): void {
    this.keysVar.dispose();
    this.maskCache?.bias.dispose();
    this.maskCache?.ramp.dispose();
    this.maskCache = null;
  }

  private slotsOldestFirst(): number[] {
    const cap = this.capacity;
    const start = this.filledSlots === cap ? this.pointer : 0;
    return Array.from({ length: this.filledSlots }, (_, i) => (start + i) % cap);
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`queue capacity must be a positive integer, got ${capacity}`);
}
