/**
 * The Worker's side of the boundary: the methods a Worker exposes, with one rule for what moves
 * instead of being copied. The page's side is ./bridge.
 */
import * as Comlink from 'comlink';

/** A callback from the page: a comlink proxy of the page's function (a MessagePort pair, a reference on both sides), or a plain function in tests. */
type Callback = (value: unknown) => unknown;

/**
 * `target`'s methods `names`, as the page calls them: results move their buffers to the page
 * instead of copying them; a callback from the page (a comlink proxy) is fire and forget, so that
 * a busy or closed page never stalls training, and its argument's buffers move too.
 *
 * Each callback holds a MessagePort pair and keeps the page's function reachable until released:
 * one passed for a call (a load's or an experiment's progress) is released when that call
 * settles, resolved or rejected, so that a page making many loads does not pile them up; one a
 * method in `keeps` holds on to (`init`'s statistics, `subscribe`'s listener) lives until the
 * same method is called again with another, which replaces it. A late report to a released
 * callback (a timer of a call that settled) is dropped.
 */
export function serve<T extends object, K extends keyof T>(target: T, names: K[], keeps: readonly K[] = []): Pick<T, K> {
  const served = {} as Pick<T, K>;
  for (const name of names) {
    const method = target[name] as (...args: unknown[]) => unknown;
    let kept: Callback[] = [];
    const call = async (...args: unknown[]) => {
      const callbacks = args.filter((a): a is Callback => typeof a === 'function');
      let succeeded = false;
      try {
        const result = transferred(await method.apply(target, args.map((a) => (typeof a === 'function' ? fireAndForget(a as Callback) : a))));
        succeeded = true;
        return result;
      } finally {
        // Released before the answer goes out: the page frees its end as the call ends.
        if (succeeded && keeps.includes(name)) {
          kept.forEach(release);
          kept = callbacks;
        } else callbacks.forEach(release);
      }
    };
    served[name] = call as T[K];
  }
  return served;
}

/** Releases a comlink proxy of the page's function: its ports close on both sides, and the page's function is no longer reachable from here. */
function release(callback: Callback): void {
  const releaseProxy = (callback as unknown as Record<symbol, unknown>)[Comlink.releaseProxy];
  if (typeof releaseProxy === 'function') (releaseProxy as () => void)();
}

function fireAndForget(callback: Callback) {
  return (value: unknown) => {
    try {
      void Promise.resolve(callback(transferred(value))).catch(() => {});
    } catch {
      // Released: the call it reported on has settled.
    }
  };
}

/**
 * Marks every ArrayBuffer in `value` (bare or under a typed array) for transfer. Only a view that
 * spans its whole buffer: a window onto a larger one (a dataset's images) must stay here, copied.
 */
function transferred<T>(value: T): T {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (v instanceof ArrayBuffer) buffers.add(v);
    else if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) buffers.add(v.buffer);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(visit);
  };
  visit(value);
  return buffers.size ? Comlink.transfer(value, [...buffers]) : value;
}
