/**
 * Runs tasks one at a time, in the order they were asked for: the training service's one model
 * lock, so that a call arriving while a step is in flight (a parameter change, an export, an
 * evaluation) takes effect between that step and the next.
 */
export class Lock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task rejects its own caller only; the next one still runs.
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Lets queued messages (comlink calls) run, without the 4 ms clamp of nested timeouts. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
