/**
 * Opt-in options of our kernels that are not kernels of their own (e.g. a different work split inside
 * one): `useCustomKernels` sets them from its `include` list, the kernels read them at each call.
 * A module of its own so that kernels need not import the registry, which imports them.
 */
let included: ReadonlySet<string> = new Set();

export function setIncludedOptions(names: Iterable<string>): void {
  included = new Set(names);
}

export function optionIncluded(name: string): boolean {
  return included.has(name);
}
