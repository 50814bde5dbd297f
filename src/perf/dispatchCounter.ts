import * as tf from '@tensorflow/tfjs';
import { onCachedDispatch } from '../kernels/webgpu/bindingCache';

/**
 * Counts WebGPU compute dispatches, exactly: every `dispatchWorkgroups` / `dispatchWorkgroupsIndirect`
 * on any compute pass, whoever records it (tfjs's programs and ours alike). Works wherever the WebGPU
 * globals exist (a page, a Worker, Node through Dawn once its globals are installed).
 *
 * A per-program breakdown comes from tfjs-webgpu's `recordAndSubmit(program, …)`, which records one
 * dispatch per call: the name is the program's class (e.g. `BinaryOpProgram`), or ours. A per-kernel
 * breakdown names the tfjs kernel that recorded it (the innermost one running: `Add`, `Relu`,
 * `MocoLerpInPlace`), marked `(backward)` when it ran in the backward pass of `tf.grads` and its kin:
 * one `BinaryOpProgram` is a residual add, a bias add or a gradient accumulation, and only the kernel
 * says which.
 *
 * It also counts a step's **uploads**: tensors whose values were made on the CPU and go to the GPU
 * when first used (tfjs-webgpu's `uploadToGPU` of a tensor that has values and no buffer yet: a
 * `tf.tensor` of draws, a permutation, a number passed to an op). Each one maps a staging buffer and
 * ends the compute pass for its copy, so it costs far more than a dispatch's uniforms (which
 * `queue.writeBuffer` writes per dispatch, and which are not counted here). And the **compute passes**
 * begun (`beginComputePass`): an upload, a submit or a read-back ends the pass, the next dispatch begins one.
 */

interface PassEncoderPrototype {
  dispatchWorkgroups(...args: unknown[]): void;
  dispatchWorkgroupsIndirect(...args: unknown[]): void;
}

interface EngineInternals {
  runKernelFunc(params: { kernelName?: string }): unknown;
  gradients(...args: unknown[]): unknown;
  endTape(): void;
  __dispatchCounterWrapped?: boolean;
}

interface CommandEncoderPrototype {
  beginComputePass(...args: unknown[]): unknown;
}

interface RecordingBackend {
  recordAndSubmit?: (program: { constructor: { name: string }; shaderKey?: string }, ...rest: unknown[]) => void;
  uploadToGPU?: (dataId: object) => void;
  tensorMap?: { get(dataId: object): { values?: unknown; resource?: unknown } | undefined };
}

export interface DispatchCounts {
  /** Every compute dispatch recorded while counting. */
  total: number;
  /** Dispatches of tfjs programs by program name (custom multi-buffer kernels under their own names). */
  byProgram: Record<string, number>;
  /** The same by tfjs kernel name (`Add`, `Add (backward)`, …); dispatches outside any kernel under `(none)`. */
  byKernel: Record<string, number>;
  /** Tensors uploaded from the CPU (values made on the CPU, copied to a new GPU buffer on first use). */
  uploads: number;
  /** The same by the tfjs kernel that first used the tensor (`(none)` outside any kernel). */
  uploadsByKernel: Record<string, number>;
  /** Compute passes begun. */
  passes: number;
}

let active: DispatchCounts | null = null;
let installed = false;
/** The tfjs kernels running now, innermost last. */
const kernels: string[] = [];
/** Whether the engine is between the end of a gradient's tape (forward recorded) and its return. */
let backward = false;

/** Follows which kernel runs and whether in a backward pass (tfjs-core 4.22's engine: `runKernelFunc`, `gradients`, `endTape`). */
function followKernels(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.__dispatchCounterWrapped) return;
  const { runKernelFunc, gradients, endTape } = engine;
  engine.runKernelFunc = function (this: unknown, params) {
    kernels.push(params.kernelName ?? 'customGrad');
    try {
      return runKernelFunc.call(this, params);
    } finally {
      kernels.pop();
    }
  };
  engine.endTape = function (this: unknown) {
    endTape.call(this);
    backward = true;
  };
  engine.gradients = function (this: unknown, ...args: unknown[]) {
    const outer = backward;
    try {
      return gradients.apply(this, args);
    } finally {
      backward = outer;
    }
  };
  engine.__dispatchCounterWrapped = true;
}

function passEncoderPrototype(): PassEncoderPrototype | null {
  const ctor = (globalThis as { GPUComputePassEncoder?: { prototype: PassEncoderPrototype } }).GPUComputePassEncoder;
  return ctor?.prototype ?? null;
}

function install(backend: RecordingBackend): void {
  if (!installed) {
    const proto = passEncoderPrototype();
    if (!proto) throw new Error('dispatch counter: GPUComputePassEncoder is not defined here (no WebGPU)');
    for (const method of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect'] as const) {
      const original = proto[method];
      proto[method] = function (this: unknown, ...args: unknown[]) {
        if (active) active.total++;
        return original.apply(this, args);
      };
    }
    const encoder = (globalThis as { GPUCommandEncoder?: { prototype: CommandEncoderPrototype } }).GPUCommandEncoder?.prototype;
    if (encoder) {
      const begin = encoder.beginComputePass;
      encoder.beginComputePass = function (this: unknown, ...args: unknown[]) {
        if (active) active.passes++;
        return begin.apply(this, args);
      };
    }
    installed = true;
  }
  const b = backend as RecordingBackend & { __dispatchCounterWrapped?: boolean };
  if (!b.__dispatchCounterWrapped) {
    const { recordAndSubmit, uploadToGPU } = b;
    if (recordAndSubmit)
      b.recordAndSubmit = function (this: unknown, program, ...rest) {
        if (active) countProgram(active, program.constructor.name);
        return recordAndSubmit.call(this, program, ...rest);
      };
    if (uploadToGPU)
      b.uploadToGPU = function (this: RecordingBackend, dataId: object) {
        const data = active && this.tensorMap?.get(dataId);
        if (active && data && data.resource == null && data.values != null) {
          active.uploads++;
          const kernel = currentKernel();
          active.uploadsByKernel[kernel] = (active.uploadsByKernel[kernel] ?? 0) + 1;
        }
        return uploadToGPU.call(this, dataId);
      };
    b.__dispatchCounterWrapped = true;
  }
  // Our programs recorded through the binding cache (opt-in) bypass recordAndSubmit.
  onCachedDispatch((name) => {
    if (active) countProgram(active, name);
  });
  followKernels();
}

/** Adds one dispatch under `name` to the current count (for kernels that record their own passes). */
export function noteProgramDispatch(name: string): void {
  if (active) countProgram(active, name);
}

function currentKernel(): string {
  return `${kernels.at(-1) ?? '(none)'}${backward ? ' (backward)' : ''}`;
}

function countProgram(counts: DispatchCounts, name: string): void {
  counts.byProgram[name] = (counts.byProgram[name] ?? 0) + 1;
  const kernel = currentKernel();
  counts.byKernel[kernel] = (counts.byKernel[kernel] ?? 0) + 1;
}

/** Runs `f` and counts the compute dispatches, uploads and passes recorded meanwhile on `backend` (the webgpu backend). */
export async function countDispatches<T>(backend: object, f: () => Promise<T> | T): Promise<{ result: T; counts: DispatchCounts }> {
  install(backend as RecordingBackend);
  if (active) throw new Error('dispatch counter: counts do not nest');
  const counts: DispatchCounts = { total: 0, byProgram: {}, byKernel: {}, uploads: 0, uploadsByKernel: {}, passes: 0 };
  active = counts;
  try {
    const result = await f();
    return { result, counts };
  } finally {
    active = null;
  }
}
