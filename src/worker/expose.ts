/**
 * The Worker's side of the boundary: the methods a Worker exposes, with one rule for what moves
 * instead of being copied. The page's side is ./bridge.
 */
import * as Comlink from 'comlink';

/**
 * `target`'s methods `names`, as the page calls them: results move their buffers to the page
 * instead of copying them; a callback from the page (a comlink proxy) is fire and forget, so that
 * a busy or closed page never stalls training, and its argument's buffers move too.
 */
export function serve<T extends object, K extends keyof T>(target: T, names: K[]): Pick<T, K> {
  const served = {} as Pick<T, K>;
  for (const name of names) {
    const method = target[name] as (...args: unknown[]) => unknown;
    const call = async (...args: unknown[]) => transferred(await method.apply(target, args.map((a) => (typeof a === 'function' ? fireAndForget(a as (value: unknown) => unknown) : a))));
    served[name] = call as T[K];
  }
  return served;
}

function fireAndForget(callback: (value: unknown) => unknown) {
  return (value: unknown) => void Promise.resolve(callback(transferred(value))).catch(() => {});
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
