import { describe, expect, it } from 'vitest';
import { StatsBatcher, type BatcherClock } from '../../src/worker/statsBatcher';

/** A clock whose time only moves when the test says so, with timers that fire as it passes them. */
class FakeClock implements BatcherClock {
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = end;
  }
}

function setup(interval = 250) {
  const clock = new FakeClock();
  const batches: { at: number; records: number[] }[] = [];
  const batcher = new StatsBatcher<number>((records) => batches.push({ at: clock.now(), records }), interval, clock);
  return { clock, batches, batcher };
}

describe('StatsBatcher', () => {
  it('sends the first record at once, then at most one batch per interval', () => {
    const { clock, batches, batcher } = setup();
    // A fast GPU: one step every 5 ms for two seconds.
    for (let step = 1; step <= 400; step++) {
      batcher.push(step);
      clock.advance(5);
    }
    clock.advance(1000);
    expect(batches[0]).toEqual({ at: 0, records: [1] });
    // 2 s at 250 ms per batch: 8 batches after the first, plus the tail.
    expect(batches.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < batches.length; i++) expect(batches[i].at - batches[i - 1].at).toBeGreaterThanOrEqual(250);
    // Nothing lost, nothing repeated, in order.
    expect(batches.flatMap((b) => b.records)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  });

  it('does not hold the last records back: a timer sends them once the interval is over', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    clock.advance(100);
    batcher.push(2);
    batcher.push(3);
    expect(batches).toHaveLength(1);
    clock.advance(149);
    expect(batches).toHaveLength(1);
    clock.advance(1);
    expect(batches).toEqual([
      { at: 0, records: [1] },
      { at: 250, records: [2, 3] },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('sends every record of slow steps without delay', () => {
    const { clock, batches, batcher } = setup();
    // Software-rendered WebGPU: a step every 2 s.
    for (let step = 1; step <= 5; step++) {
      batcher.push(step);
      clock.advance(2000);
    }
    expect(batches.map((b) => b.records)).toEqual([[1], [2], [3], [4], [5]]);
    expect(batches.map((b) => b.at)).toEqual([0, 2000, 4000, 6000, 8000]);
  });

  it('flushes on demand (pause, finish), and with force sends an empty batch for a state change', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    clock.advance(10);
    batcher.push(2);
    batcher.flush();
    expect(batches.map((b) => b.records)).toEqual([[1], [2]]);
    expect(clock.pendingTimers).toBe(0);
    batcher.flush();
    expect(batches).toHaveLength(2);
    batcher.flush(true);
    expect(batches.map((b) => b.records)).toEqual([[1], [2], []]);
  });

  it('clear() drops pending records and their timer', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    batcher.push(2);
    expect(batcher.size).toBe(1);
    batcher.clear();
    clock.advance(1000);
    expect(batches.map((b) => b.records)).toEqual([[1]]);
    expect(batcher.size).toBe(0);
  });
});
