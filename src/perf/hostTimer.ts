/**
 * The host's part of a step: from its start until it asks the backend for its first read-back.
 * On WebGPU the read-back (`read` → `getBufferData`) copies the result into a staging buffer and
 * submits everything still recorded before its first `await`, so by the time `read` returns its
 * promise every command of the step has been recorded and submitted, and what remains of the
 * step's wall time is waiting for the GPU (and the values' way back). A host-bound step has
 * host ms ≈ wall ms; a GPU-bound one host ms ≪ wall ms. On the CPU backends the work happens on
 * the host anyway (host ms ≈ wall ms).
 *
 * MoCo's step reads back once, at its end; a step that read earlier would be cut short at that
 * read, so `readBacks` says how many reads the step made.
 */

interface ReadingBackend {
  read(dataId: object): Promise<unknown>;
}

export interface HostTiming<T> {
  result: T;
  /** Start of the step → its first read-back requested (all its commands submitted). */
  hostMs: number;
  /** Start of the step → its end (the values back). */
  wallMs: number;
  /** Backend reads during the step. */
  readBacks: number;
}

/** Runs `f` (one step) on `backend` and times its host part (see above). */
export async function timeHostPart<T>(backend: object, f: () => Promise<T>): Promise<HostTiming<T>> {
  const b = backend as ReadingBackend;
  const own = Object.prototype.hasOwnProperty.call(b, 'read');
  const saved = b.read;
  let firstRead: number | null = null;
  let readBacks = 0;
  b.read = function (this: unknown, dataId: object) {
    const values = saved.call(this, dataId);
    // `read` runs synchronously up to its first await, i.e. past the submit of everything recorded.
    firstRead ??= performance.now();
    readBacks++;
    return values;
  };
  const start = performance.now();
  try {
    const result = await f();
    const end = performance.now();
    return { result, hostMs: (firstRead ?? end) - start, wallMs: end - start, readBacks };
  } finally {
    if (own) b.read = saved;
    else delete (b as Partial<ReadingBackend>).read;
  }
}
