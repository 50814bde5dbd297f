/** Time and timers, injectable so that tests can run the batcher on a fake clock. */
export interface BatcherClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: BatcherClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Collects per-step records and hands them over in batches, at most once per `intervalMs`: a
 * record that arrives sooner waits for a timer, so that the last steps before a quiet spell still
 * go out on time. `flush()` sends at once (pause, finish, reset); with `force` it sends even an
 * empty batch, to carry a state change.
 */
export class StatsBatcher<R> {
  private pending: R[] = [];
  private lastEmit = -Infinity;
  private timer: unknown = null;

  constructor(
    private readonly emit: (records: R[]) => void,
    readonly intervalMs = 250,
    private readonly clock: BatcherClock = systemClock,
  ) {}

  /** Records waiting for the next batch. */
  get size(): number {
    return this.pending.length;
  }

  push(record: R): void {
    this.pending.push(record);
    const wait = this.lastEmit + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }

  flush(force = false): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0 && !force) return;
    const records = this.pending;
    this.pending = [];
    this.lastEmit = this.clock.now();
    this.emit(records);
  }

  /** Drops pending records and the timer (on reset). */
  clear(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
  }
}
