/**
 * The one point where a faster implementation of a MoCo operation attaches from outside: each
 * operation is written once, in plain tfjs, and wrapped with `overridable`; src/kernels sets an
 * override on it (`setOverride`) while its custom kernels are on. The method never imports a kernel.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function type
type Operation = (...args: any[]) => any;

/** Runs the operation; `plain` is the tfjs implementation, to fall back on where the override does not apply. */
export type Override<F extends Operation> = (plain: F, ...args: Parameters<F>) => ReturnType<F>;

export type Overridable<F extends Operation> = F & {
  /** The operation's name, as overrides and error messages show it. */
  readonly operation: string;
  /** The tfjs implementation, whatever is attached. */
  readonly plain: F;
  /** Attaches `impl` (or detaches with `undefined`). */
  setOverride(impl: Override<F> | undefined): void;
};

export function overridable<F extends Operation>(operation: string, plain: F): Overridable<F> {
  let impl: Override<F> | undefined;
  const run = (...args: Parameters<F>): ReturnType<F> => (impl ? impl(plain, ...args) : plain(...args));
  return Object.assign(run as F, {
    operation,
    plain,
    setOverride: (next: Override<F> | undefined) => {
      impl = next;
    },
  });
}
