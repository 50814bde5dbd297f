import * as tf from '@tensorflow/tfjs';
import type { Overridable, Override } from '../moco/overridable';

/**
 * What one file of src/kernels declares: a custom kernel under the name that `useCustomKernels`'s
 * `except`/`include` (and the benchmark's `--except`/`--include`) switch, what it attaches to tfjs
 * or to the MoCo method while on, and the cases that check it against the stock code.
 */
export interface CustomKernel {
  /** The switch's name, e.g. 'Conv2DBackpropFilter', 'InfoNce', 'ReluGrad'. */
  name: string;
  /** Off unless named in `include` (kept for A/B runs; docs/PERFORMANCE.md says why). */
  optIn?: boolean;
  /** Kernels of our own names, registered once; the rest reaches them with `runKernel`. */
  kernels?: KernelDefinition[];
  /** A stock kernel of this backend replaced while on. */
  replaces?: { kernelName: string; kernelFunc: tf.KernelFunc };
  /** A stock gradient replaced while on (on this backend; tfjs's elsewhere). */
  gradient?: tf.GradConfig;
  /** MoCo operations (src/moco/overridable.ts) run by our kernels while on (on this backend). */
  overrides?: Attachment[];
  /**
   * Opt-in variants inside these kernels, switched by their own names (e.g. 'BatchNormRowSplit').
   * `previousDefault`: the way it ran before, kept for A/B runs against the new default
   * (`--variants custom,custom+NAME`); the kernel checks leave it off (its own cases check that path).
   */
  options?: { name: string; setOn: (on: boolean) => void; previousDefault?: boolean }[];
  /**
   * tfjs environment flags set while on, put back to the values they had when off: a stock path of
   * tfjs chosen in place of its default (no code of ours, so no cases: the kernel checks compare a
   * MoCo step with it on). Only flags the backend reads at each call, not once at start-up.
   */
  flags?: Record<string, number | boolean | string>;
  /**
   * A way of running that several declarations' kernels share, set while this one is on: a switch
   * of its own name with no kernel of its own (`GemmWideTiles`: the tiles of every convolution GEMM
   * of ours; `BindingCache`: how every program of ours is recorded), so that it is on or off
   * whichever of those kernels is. A variant inside one kernel, on only with it, is an `options` entry.
   */
  setOn?: (on: boolean) => void;
  /** Custom against stock on the same inputs. */
  cases?: KernelCase[];
}

/** One correctness case: `run` with custom kernels off, then on; every output compared. */
export interface KernelCase {
  name: string;
  /** A program of ours that must run with custom kernels on (else the case compared stock with stock). */
  program: string;
  /** Makes its own inputs (seeded) and returns the outputs to compare; runs inside `tf.tidy`. */
  run: () => Record<string, tf.Tensor>;
  /** Largest |custom − stock| over the largest |stock|; default 1e-4. */
  tolerance?: number;
}

export interface KernelDefinition {
  kernelName: string;
  kernelFunc: tf.KernelFunc;
  /** Its gradient, tfjs's way: saved inputs and outputs by name and index, no keep/clone. */
  gradient?: Omit<tf.GradConfig, 'kernelName'>;
}

/** An override of one MoCo operation, its types checked against the operation's. */
export interface Attachment {
  operation: string;
  /** Attaches the override, to run where `when()` holds (the plain operation elsewhere), or detaches it. */
  set(when: (() => boolean) | undefined): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function type
export function attach<F extends (...args: any[]) => any>(target: Overridable<F>, impl: Override<F>): Attachment {
  return {
    operation: target.operation,
    set: (when) => target.setOverride(when && ((plain, ...args) => (when() ? impl(plain, ...args) : plain(...args)))),
  };
}

/**
 * A kernel function with its inputs bound by name (a missing one is an error naming it) and its
 * attributes typed: the one place where tfjs's untyped maps are read.
 */
export function kernelFunc<I extends string, A = Record<string, never>>(
  inputNames: readonly I[],
  run: (inputs: Record<I, tf.TensorInfo>, attrs: A, backend: object) => tf.TensorInfo | tf.TensorInfo[],
): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    for (const name of inputNames) if (!inputs[name]) throw new Error(`kernel input '${name}' is missing (got ${Object.keys(inputs).join(', ')})`);
    return run(inputs as Record<I, tf.TensorInfo>, attrs as A, backend);
  };
}

/** Runs one of our kernels by name with typed attributes. */
export function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
  return Array.isArray(out) ? out : [out as tf.Tensor];
}

/** Seeded inputs for kernel cases. */
export function normal(shape: number[], seed: number, mean = 0): tf.Tensor {
  return tf.randomNormal(shape, mean, 1, 'float32', seed);
}

/** tfjs's attributes of the convolution gradients, as our replacements read them. */
export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  inputShape: [number, number, number, number];
}
