/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs';
import { bindingCacheActive, recordCached } from './bindingCache';

/**
 * Runs our WGSL programs on tfjs-webgpu, through the backend's own recording path
 * (`recordAndSubmit`: same command encoder, same compute pass, same batching of submits, same
 * timestamp queries under `tf.profile`), with one difference from tfjs's programs: any number of
 * outputs. tfjs binds one read-write buffer per program; a fused update that writes a parameter and
 * its velocity, or a batch-norm that writes y and the batch statistics, would otherwise need a
 * dispatch per output.
 *
 * Bindings follow tfjs's layout, which `recordAndSubmit` fills: binding 0 the first output, then
 * the other outputs and the inputs (read-only), then one uniform buffer whose struct starts with
 * tfjs's fields (NAN, INFINITY, then the shape and strides of every bound tensor, first output
 * last) and ends with the program's own. Outputs + in-place buffers + inputs ≤ the device's
 * `maxStorageBuffersPerShaderStage` (8 by default; src/util/webgpuDevice.ts asks for the adapter's
 * most, so that one dispatch can update many parameters).
 *
 * In-place buffers (`inPlace`) are written where they are: a variable updated by a kernel keeps its
 * buffer, and a step's parameter updates need no new tensors. Only a buffer that its tensor owns alone
 * (`ownsBuffer`) may be written so: tfjs shares a buffer between tensors (`assign`, `clone`, `reshape`).
 *
 * Relies on tfjs-backend-webgpu 4.22 internals (`recordAndSubmit`); package.json pins that version.
 */

/** A uniform of the program's own, in the form `recordAndSubmit` takes (so that it goes to tfjs as it is, nothing made per dispatch). */
export interface Uniform {
  type: 'float32' | 'int32';
  data: [number];
}
export const i32 = (value: number): Uniform => ({ type: 'int32', data: [value] });
export const f32 = (value: number): Uniform => ({ type: 'float32', data: [value] });

/** One dispatch of a WGSL program. */
export interface Program {
  /** Shows in `tf.profile` timings and dispatch counts. */
  name: string;
  /** Identifies the compiled pipeline: whatever the WGSL depends on besides names and ranks. */
  key?: string;
  /** Read-only buffers, bound by name: the WGSL sees each as an `array<f32>` of that name. */
  inputs: Record<string, tf.TensorInfo>;
  /** Inputs seen as `array<vec4<f32>>` instead, for 128-bit loads (their sizes must be multiples of 4). */
  vec4Inputs?: readonly string[];
  /** Output shapes by buffer name (float32); the kernel returns them in this order. */
  outputs: Record<string, number[]>;
  /** Existing tensors written in place (read-write), by name; each must own its buffer (`ownsBuffer`). */
  inPlace?: Record<string, tf.TensorInfo>;
  /** The program's own uniforms, `u.<name>` in WGSL, in this order. */
  uniforms?: Record<string, Uniform>;
  /** Default [256, 1, 1]. */
  workgroupSize?: [number, number, number];
  dispatch: [number, number, number];
  /**
   * The body of `fn main`, which has `gid`, `lid`, `wid` (vec3<u32>: global, local, workgroup
   * ids), `lidx` (u32 local index), `nwg` (vec3<u32>: workgroups dispatched). `declarations` go
   * before main. Functions, so that the WGSL is only built when the pipeline is not cached yet.
   */
  body: () => string;
  declarations?: () => string;
}

/** What `recordAndSubmit` reads from a program. */
interface RecordedProgram {
  /** `recordAndSubmit` names timers after `program.constructor.name`: ours carry their own name. */
  constructor: { name: string };
  pipeline: GPUComputePipeline;
  dispatch: [number, number, number];
  shaderKey: string;
  outputShape: number[];
  variableNames: string[];
}

interface WebGpuBackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { values: unknown; refCount: number } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  recordAndSubmit(program: RecordedProgram, output: tf.TensorInfo, inputs: tf.TensorInfo[], uniforms?: { type: string; data: number[] }[]): void;
}

function coordsType(rank: number): string {
  if (rank <= 1) return 'i32';
  if (rank <= 4) return `vec${rank}<i32>`;
  throw new Error(`custom webgpu programs take tensors of rank ≤ 4, got rank ${rank}`);
}

const storageBufferLimits = new WeakMap<GPUDevice, number>();

/** Storage buffers one dispatch may bind on this backend's device (8 unless the device asked for more). */
export function storageBufferLimit(backend: object): number {
  // Read once per device: Dawn's `limits` is a native getter, and this runs for every dispatch.
  const device = (backend as WebGpuBackendInternals).device;
  let limit = storageBufferLimits.get(device);
  if (limit === undefined) storageBufferLimits.set(device, (limit = device.limits.maxStorageBuffersPerShaderStage));
  return limit;
}

/** Whether `t` alone holds its buffer, so that a kernel may write it in place. */
export function ownsBuffer(backend: object, t: tf.TensorInfo): boolean {
  return (backend as WebGpuBackendInternals).tensorMap.get(t.dataId)?.refCount === 1;
}

function writableNames(spec: Program): string[] {
  return [...Object.keys(spec.outputs), ...Object.keys(spec.inPlace ?? {})];
}

function shaderSource(spec: Program, boundShapes: number[][]): string {
  const buffers = [
    ...writableNames(spec).map((name) => ({ name, access: 'read_write', type: 'f32' })),
    ...Object.keys(spec.inputs).map((name) => ({ name, access: 'read', type: spec.vec4Inputs?.includes(name) ? 'vec4<f32>' : 'f32' })),
  ];
  // recordAndSubmit writes the shapes of `runProgram`'s bound buffers, then of the first writable one (an output, else an in-place buffer), each followed by its strides.
  const tfjsFields = boundShapes.map((s, i) => `_shape${i} : ${coordsType(s.length)}, _strides${i} : ${coordsType(s.length - 1)},`).join('\n  ');
  const ownFields = Object.entries(spec.uniforms ?? {}).map(([name, u]) => `${name} : ${u.type === 'int32' ? 'i32' : 'f32'},`).join('\n  ');
  const wg = spec.workgroupSize ?? DEFAULT_WORKGROUP;
  return `
struct Uniforms {
  NAN : f32, INFINITY : f32,
  ${tfjsFields}
  ${ownFields}
};
${buffers.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name} : array<${b.type}>;`).join('\n')}
@group(0) @binding(${buffers.length}) var<uniform> u : Uniforms;
${spec.declarations?.() ?? ''}
@compute @workgroup_size(${wg[0]}, ${wg[1]}, ${wg[2]})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>,
        @builtin(local_invocation_index) lidx : u32, @builtin(workgroup_id) wid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  // Every binding must be used for the pipeline's automatic layout to include it.
  _ = u.NAN;
  ${buffers.map((b) => `_ = arrayLength(&${b.name});`).join(' ')}
  ${spec.body()}
}
`;
}

const DEFAULT_WORKGROUP: [number, number, number] = [256, 1, 1];

/**
 * What a shader key fixes, made once per key: the pipeline and the program object that
 * `recordAndSubmit` reads. The object is reused for every dispatch of the key, only its grid and
 * output shape set per call: tfjs reads it synchronously (its uniforms' bytes, the bind group and the
 * dispatch are recorded before `recordAndSubmit` returns) and keeps nothing of it.
 */
interface Compiled {
  pipeline: GPUComputePipeline | Promise<GPUComputePipeline>;
  program: RecordedProgram | null;
}

const pipelines = new WeakMap<GPUDevice, Map<string, Compiled>>();

/**
 * `getBindGroupLayout(0)` answered from the pipeline's first answer: tfjs asks for it on every
 * dispatch (`recordAndSubmit`), a call into Dawn each time; our pipelines' layout never changes.
 */
function rememberLayout(pipeline: GPUComputePipeline): GPUComputePipeline {
  const layout = pipeline.getBindGroupLayout(0);
  const ask = pipeline.getBindGroupLayout.bind(pipeline);
  pipeline.getBindGroupLayout = (index: number) => (index === 0 ? layout : ask(index));
  return pipeline;
}

/** Records one dispatch of `spec` on the webgpu backend and returns its outputs (float32), in the order of `spec.outputs`. */
export function runProgram(backend: object, spec: Program): tf.TensorInfo[] {
  // Runs for every dispatch of ours: plain loops, no intermediate arrays or entries (issue #15, the host's cost of a dispatch).
  const b = backend as WebGpuBackendInternals;
  const inputs: tf.TensorInfo[] = [];
  const inPlace: tf.TensorInfo[] = [];
  const outputShapes: number[][] = [];
  for (const name in spec.inputs) inputs.push(spec.inputs[name]);
  for (const name in spec.inPlace) inPlace.push(spec.inPlace[name]);
  for (const name in spec.outputs) outputShapes.push(spec.outputs[name]);
  const buffers = outputShapes.length + inPlace.length + inputs.length;
  const limit = storageBufferLimit(backend);
  if (buffers > limit) throw new Error(`${spec.name}: ${buffers} storage buffers, this device allows ${limit}`);
  if (buffers === inputs.length) throw new Error(`${spec.name}: a program needs an output or an in-place buffer`);
  for (const name in spec.inputs) {
    const t = spec.inputs[name];
    if (t.dtype !== 'float32') throw new Error(`${spec.name}: ${name} is ${t.dtype}, float32 expected`);
    if (spec.vec4Inputs?.includes(name) && tf.util.sizeFromShape(t.shape) % 4) throw new Error(`${spec.name}: ${name} (shape ${t.shape.join('×')}) cannot be read as vec4s`);
    b.uploadToGPU(t.dataId);
  }
  for (const name in spec.inPlace) {
    const t = spec.inPlace[name];
    if (t.dtype !== 'float32') throw new Error(`${spec.name}: ${name} is ${t.dtype}, float32 expected`);
    b.uploadToGPU(t.dataId);
  }
  for (const name in spec.inPlace) if (!ownsBuffer(backend, spec.inPlace[name])) throw new Error(`${spec.name}: ${name} shares its buffer with another tensor and cannot be written in place`);
  const outputs = outputShapes.map((shape) => b.makeTensorInfo(shape, 'float32'));
  for (const o of outputs) b.uploadToGPU(o.dataId);
  // tfjs's binding order: the first writable buffer (output or in place) is its output, bound first and described last.
  const first = outputs.length ? outputs[0] : inPlace[0];
  const bound: tf.TensorInfo[] = [];
  for (let i = 1; i < outputs.length; i++) bound.push(outputs[i]);
  for (let i = outputs.length ? 0 : 1; i < inPlace.length; i++) bound.push(inPlace[i]);
  for (const t of inputs) bound.push(t);
  const workgroupSize = spec.workgroupSize ?? DEFAULT_WORKGROUP;

  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  let ranks = '';
  for (let i = 0; i < bound.length; i++) ranks += `${bound[i].shape.length},`;
  const shaderKey = `${spec.name}|${spec.key ?? ''}|${ranks}${first.shape.length}|${workgroupSize[0]},${workgroupSize[1]},${workgroupSize[2]}|${spec.vec4Inputs?.join(',') ?? ''}`;
  // tfjs's parallel compilation (WEBGPU_ENGINE_COMPILE_ONLY): pipelines compiled asynchronously, nothing recorded.
  const compileOnly = tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
  let compiled = cache.get(shaderKey);
  if (!compiled) {
    const code = shaderSource(spec, [...bound.map((t) => t.shape), first.shape]);
    const module = b.device.createShaderModule({ code, label: spec.name });
    const descriptor: GPUComputePipelineDescriptor = { layout: 'auto', compute: { module, entryPoint: 'main' }, label: spec.name };
    const pipeline = compileOnly ? b.device.createComputePipelineAsync(descriptor).then(rememberLayout) : rememberLayout(b.device.createComputePipeline(descriptor));
    cache.set(shaderKey, (compiled = { pipeline, program: null }));
  }
  if (compileOnly) return outputs;
  const pipeline = compiled.pipeline;
  if (pipeline instanceof Promise) throw new Error(`${spec.name}: its pipeline is still compiling: await customPipelinesReady() after a compile-only pass`);
  const program = (compiled.program ??= {
    constructor: { name: spec.name },
    pipeline,
    dispatch: spec.dispatch,
    shaderKey,
    outputShape: first.shape,
    variableNames: [...writableNames(spec).slice(1), ...Object.keys(spec.inputs)],
  });
  program.dispatch = spec.dispatch;
  program.outputShape = first.shape;
  // tfjs appends these to its own uniforms (its spread skipped when there are none: the same bytes).
  let uniforms: Uniform[] | undefined;
  for (const name in spec.uniforms) (uniforms ??= []).push(spec.uniforms[name]);
  // Opt-in `BindingCache`: uniform buffers and bind groups found again instead of made (bindingCache.ts).
  if (bindingCacheActive(b)) recordCached(b, { name: spec.name, shaderKey, pipeline, dispatch: spec.dispatch }, first, bound, uniforms ?? []);
  else b.recordAndSubmit(program, first, bound, uniforms);
  // A value read back earlier is cached on the CPU, and would be returned instead of the new one.
  for (const t of inPlace) b.tensorMap.get(t.dataId)!.values = null;
  return outputs;
}

/** Resolves when the pipelines of our programs started in a compile-only pass are ready (tfjs's `checkCompileCompletionAsync` for ours). */
export async function customPipelinesReady(backend: object): Promise<void> {
  const cache = pipelines.get((backend as WebGpuBackendInternals).device);
  if (!cache) return;
  await Promise.all([...cache.values()].map(async (c) => (c.pipeline = await c.pipeline)));
}

/** Frees an intermediate result of a kernel that runs several programs. */
export function disposeIntermediate(backend: object, t: tf.TensorInfo): void {
  (backend as tf.KernelBackend).disposeData(t.dataId);
}

/** Workgroups for `n` invocations of a 1-D grid-stride loop (256 invocations per workgroup). */
export function gridStride(n: number, perInvocation = 1): [number, number, number] {
  return [Math.max(1, Math.min(Math.ceil(n / (256 * perInvocation)), 4096)), 1, 1];
}

/** The loop header of a 1-D grid-stride loop over `count` elements (use with `gridStride`). */
export function gridStrideLoop(count: string, index = 'i'): string {
  return `for (var ${index} = i32(gid.x); ${index} < ${count}; ${index} += i32(nwg.x * 256u))`;
}

/**
 * The one workgroup reduction: `reduceSum(v, lidx)` (and `reduceMax` with `max`) over `lanes`
 * invocations spaced `stride` apart (invocation `lidx` is lane `lidx / stride`, column
 * `lidx % stride`), by halving in workgroup memory `red`; every invocation gets its column's total.
 */
export function workgroupReduction(options: { type?: 'f32' | 'vec2<f32>'; lanes?: number; stride?: number; max?: boolean } = {}): string {
  const { type = 'f32', lanes = 256, stride = 1 } = options;
  const fn = (name: string, combine: (a: string, b: string) => string) => `
  fn ${name}(v : ${type}, lidx : u32) -> ${type} {
    red[lidx] = v;
    workgroupBarrier();
    for (var s = ${lanes / 2}u; s > 0u; s = s / 2u) {
      if (lidx / ${stride}u < s) { red[lidx] = ${combine('red[lidx]', `red[lidx + s * ${stride}u]`)}; }
      workgroupBarrier();
    }
    let total = red[lidx % ${stride}u];
    workgroupBarrier();
    return total;
  }`;
  return `var<workgroup> red : array<${type}, ${lanes * stride}>;
  ${fn('reduceSum', (a, b) => `${a} + ${b}`)}
  ${options.max ? fn('reduceMax', (a, b) => `max(${a}, ${b})`) : ''}`;
}

/** `items` split in one pass into those `test` holds for and the rest, each in order. */
export function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const held: T[] = [];
  const rest: T[] = [];
  for (const item of items) (test(item) ? held : rest).push(item);
  return [held, rest];
}

/** `items` in runs of at most `size`, in order. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * One grid-stride loop over several tensors of different sizes laid end to end, so that one dispatch
 * spreads the elements of all of them evenly over the GPU: element `i` of the whole is element `j` of
 * tensor `p`, for which `each(p)` is the WGSL run (with `j` in scope). The ends go in as uniforms
 * (`u.end0`, …), so one pipeline serves every group of as many tensors.
 */
export function concatenatedLoop(sizes: readonly number[], each: (p: number) => string): { uniforms: Record<string, Uniform>; dispatch: [number, number, number]; body: () => string } {
  const ends: number[] = [];
  sizes.reduce((end, size) => (ends.push(end + size), end + size), 0);
  const total = ends[ends.length - 1];
  return {
    uniforms: Object.fromEntries(ends.map((end, p) => [`end${p}`, i32(end)])),
    dispatch: gridStride(total),
    body: () => `
      ${gridStrideLoop(`u.end${sizes.length - 1}`)} {
        ${sizes.map((_, p) => `${p ? 'else ' : ''}if (i < u.end${p}) { let j = i${p ? ` - u.end${p - 1}` : ''}; ${each(p)} }`).join('\n        ')}
      }`,
  };
}
