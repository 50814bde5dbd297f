import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerBridge } from '../../src/worker/bridge';
import { serve } from '../../src/worker/expose';

/** A Worker stand-in in this process: the page's end of a MessageChannel, with a Worker's events. */
class FakeWorker extends EventTarget {
  terminated = false;
  constructor(private readonly port: MessagePort) {
    super();
    port.addEventListener('message', (e) => this.dispatchEvent(new MessageEvent('message', { data: (e as MessageEvent).data })));
    port.start();
  }
  postMessage(message: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }
  terminate(): void {
    this.terminated = true;
    this.port.close();
  }
}

/** What the Worker side keeps, to see what moved and what stayed. */
const kept = { whole: new Float32Array(0), window: new Float32Array(0) };

const target = {
  arrays: async () => {
    kept.whole = new Float32Array([1, 2, 3]);
    kept.window = new Float32Array([4, 5, 6, 7]).subarray(1, 3);
    return { whole: kept.whole, window: kept.window };
  },
  hang: () => new Promise<never>(() => {}),
  double: async (x: number) => 2 * x,
  report: async (onProgress: (line: string) => void) => {
    held.push(onProgress);
    onProgress('half way');
    return 'done';
  },
  reportAndFail: async (onProgress: (line: string) => void) => {
    held.push(onProgress);
    onProgress('half way');
    throw new Error('the file is cut off');
  },
  /** A call that keeps its callback after it settles, as a timer would; `late` calls it. */
  reportLater: async (onProgress: (line: string) => void) => {
    later = onProgress;
  },
  late: async () => later?.('too late'),
  /** A listener kept for the Worker's life, as the evaluation's `subscribe` keeps the page's. */
  subscribe: async (onEvent: (event: string) => void) => {
    listener = onEvent;
  },
  emit: async (event: string) => listener?.(event),
};
/**
 * The callbacks the calls above were given, still referenced here as a Worker's closures may hold
 * them (a throttle, a timer): comlink's own release waits for the Worker's garbage collector, which
 * a reference prevents; only an explicit release frees the page's end.
 */
const held: unknown[] = [];
let later: ((line: string) => void) | null = null;
let listener: ((event: string) => void) | null = null;

/** A callback proxied to the Worker as the page does, which counts the times comlink releases it (the page's end closed, its function unreachable from the Worker). */
function counted<T>(fn: (value: T) => void, released: { count: number }) {
  return Comlink.proxy(Object.assign(fn, { [Comlink.finalizer]: () => released.count++ }));
}

const settle = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
};

function start(): { bridge: WorkerBridge<{ test: typeof target }>; worker: FakeWorker } {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose({ test: serve(target, ['arrays', 'hang', 'double', 'report', 'reportAndFail', 'reportLater', 'late', 'subscribe', 'emit'], ['subscribe']) }, port2);
  const worker = new FakeWorker(port1);
  return { bridge: startWorker<{ test: typeof target }>(worker as unknown as Worker, 'test'), worker };
}

describe('the worker bridge', () => {
  let running: ReturnType<typeof start> | null = null;
  afterEach(() => running?.bridge.terminate());

  it('calls typed methods of an object of the API and hears callbacks', async () => {
    running = start();
    const { api } = running.bridge;
    expect(await api.test.double(21)).toBe(42);
    const lines: string[] = [];
    expect(await api.test.report(Comlink.proxy((l: string) => lines.push(l)))).toBe('done');
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toEqual(['half way']);
  });

  it('moves whole buffers to the page and copies a window onto a larger one', async () => {
    running = start();
    const result = await running.bridge.api.test.arrays();
    expect(Array.from(result.whole)).toEqual([1, 2, 3]);
    expect(Array.from(result.window)).toEqual([5, 6]);
    // Moved: the Worker's copy is detached. Copied: the Worker still holds its larger buffer.
    expect(kept.whole.length).toBe(0);
    expect(Array.from(kept.window)).toEqual([5, 6]);
  });

  it('rejects a call in flight when the Worker fails, naming it; later calls still go through', async () => {
    running = start();
    const { api } = running.bridge;
    expect(await api.test.double(2)).toBe(4);
    const pending = api.test.hang();
    running.worker.dispatchEvent(Object.assign(new Event('error'), { message: 'Uncaught TypeError: x is undefined' }));
    await expect(pending).rejects.toThrow('the test worker failed: Uncaught TypeError: x is undefined');
    expect(await api.test.double(3)).toBe(6);
    const unreadable = api.test.hang();
    running.worker.dispatchEvent(new Event('messageerror'));
    await expect(unreadable).rejects.toThrow('the test worker sent an answer that could not be read');
    expect(running.worker.terminated).toBe(false);
  });

  it('tells its listeners when the Worker fails on its own, not when the page ends it', async () => {
    running = start();
    const heard: string[] = [];
    const off = running.bridge.onFailure((e) => heard.push(e.message));
    expect(await running.bridge.api.test.double(2)).toBe(4);
    running.worker.dispatchEvent(Object.assign(new Event('error'), { message: 'Uncaught RangeError: out of range' }));
    expect(heard).toEqual(['the test worker failed: Uncaught RangeError: out of range']);
    off();
    running.worker.dispatchEvent(Object.assign(new Event('error'), { message: 'again' }));
    running.bridge.terminate();
    expect(heard).toHaveLength(1);
  });

  it('ends a Worker whose script failed to load: the first call and every later one reject', async () => {
    running = start();
    const { api } = running.bridge;
    const first = api.test.hang();
    running.worker.dispatchEvent(new Event('error'));
    await expect(first).rejects.toThrow('the test worker failed to load: script error');
    expect(running.worker.terminated).toBe(true);
    await expect(api.test.double(1)).rejects.toThrow('the test worker failed to load');
  });

  it('rejects calls in flight and later ones once terminated, with the reason given', async () => {
    running = start();
    const { api } = running.bridge;
    const pending = api.test.hang();
    running.bridge.terminate(new Error('cancelled by the user'));
    expect(running.worker.terminated).toBe(true);
    await expect(pending).rejects.toThrow('cancelled by the user');
    await expect(api.test.double(1)).rejects.toThrow('cancelled by the user');
  });

  it('releases a callback passed for one call when the call settles, resolved or rejected: none stays behind after many calls', async () => {
    running = start();
    const { api } = running.bridge;
    const released = { count: 0 };
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) expect(await api.test.report(counted((l: string) => lines.push(l), released))).toBe('done');
    await expect(api.test.reportAndFail(counted((l: string) => lines.push(l), released))).rejects.toThrow('the file is cut off');
    await settle(() => released.count === 6);
    expect(released.count).toBe(6);
    // Each was heard before it went.
    expect(lines).toEqual(new Array(6).fill('half way'));
  });

  it('drops a late report to a released callback, without an error in the Worker', async () => {
    running = start();
    const { api } = running.bridge;
    const released = { count: 0 };
    const lines: string[] = [];
    await api.test.reportLater(counted((l: string) => lines.push(l), released));
    await settle(() => released.count === 1);
    await expect(api.test.late()).resolves.toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toEqual([]);
    expect(released.count).toBe(1);
  });

  it('keeps a subscribed listener after the call settles, and releases it when another replaces it', async () => {
    running = start();
    const { api } = running.bridge;
    const released = { count: 0 };
    const first: string[] = [];
    const second: string[] = [];
    await api.test.subscribe(counted((e: string) => first.push(e), released));
    await api.test.emit('a');
    await settle(() => first.length === 1);
    expect(first).toEqual(['a']);
    expect(released.count).toBe(0);
    await api.test.subscribe(counted((e: string) => second.push(e), released));
    await settle(() => released.count === 1);
    expect(released.count).toBe(1);
    await api.test.emit('b');
    await settle(() => second.length === 1);
    expect(second).toEqual(['b']);
    expect(first).toEqual(['a']);
  });
});
