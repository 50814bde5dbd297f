import * as Comlink from 'comlink';

/** `error` as the page's side receives it from a Worker's rejected call: comlink's own serialisation of a thrown value, there and back. */
export function acrossComlink(error: unknown): unknown {
  const handler = Comlink.transferHandlers.get('throw')!;
  const [wire] = handler.serialize({ value: error });
  try {
    handler.deserialize(wire);
  } catch (received) {
    return received;
  }
  throw new Error('comlink rebuilt a rejection without throwing it');
}
