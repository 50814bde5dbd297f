/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs';

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
 * last) and ends with the program's own. WebGPU allows 8 storage buffers per stage by default (tfjs
 * asks for no more), so outputs + inputs ≤ 8.
 *
 * Relies on tfjs-backend-webgpu 4.22 internals (`recordAndSubmit`); package.json pins that version.
 */

export interface Uniform {
  type: 'f32' | 'i32' | 'u32';
  value: number;
}
export const i32 = (value: number): Uniform => ({ type: 'i32', value });
export const f32 = (value: number): Uniform => ({ type: 'f32', value });

/** One dispatch of a WGSL program. */
export interface Program {
  /** Shows in `tf.profile` timings and dispatch counts. */
  name: string;
  /** Identifies the compiled pipeline: whatever the WGSL depends on besides names and ranks. */
  key?: string;
  /** Read-only buffers, bound by name: the WGSL sees each as an `array<f32>` of that name. */
  inputs: Record<string, tf.TensorInfo>;
  /** Output shapes by buffer name (float32); the kernel returns them in this order. */
  outputs: Record<string, number[]>;
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
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  recordAndSubmit(program: RecordedProgram, output: tf.TensorInfo, inputs: tf.TensorInfo[], uniforms: { type: string; data: number[] }[]): void;
}

const MAX_STORAGE_BUFFERS = 8;
const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function coordsType(rank: number): string {
  if (rank <= 1) return 'i32';
  if (rank <= 4) return `vec${rank}<i32>`;
  throw new Error(`custom webgpu programs take tensors of rank ≤ 4, got rank ${rank}`);
}

function shaderSource(spec: Program, boundShapes: number[][]): string {
  const buffers = [...Object.keys(spec.outputs).map((name) => ({ name, access: 'read_write' })), ...Object.keys(spec.inputs).map((name) => ({ name, access: 'read' }))];
  // recordAndSubmit writes the shapes of [...outputs.slice(1), ...inputs, outputs[0]], each followed by its strides.
  const tfjsFields = boundShapes.map((s, i) => `_shape${i} : ${coordsType(s.length)}, _strides${i} : ${coordsType(s.length - 1)},`).join('\n  ');
  const ownFields = Object.entries(spec.uniforms ?? {}).map(([name, u]) => `${name} : ${u.type},`).join('\n  ');
  const wg = spec.workgroupSize ?? DEFAULT_WORKGROUP;
  return `
struct Uniforms {
  NAN : f32, INFINITY : f32,
  ${tfjsFields}
  ${ownFields}
};
${buffers.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name} : array<f32>;`).join('\n')}
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

function uniformType(t: Uniform['type']): string {
  return t === 'f32' ? 'float32' : t === 'i32' ? 'int32' : 'uint32';
}

const DEFAULT_WORKGROUP: [number, number, number] = [256, 1, 1];

/** Records one dispatch of `spec` on the webgpu backend and returns its outputs (float32), in the order of `spec.outputs`. */
export function runProgram(backend: object, spec: Program): tf.TensorInfo[] {
  const b = backend as WebGpuBackendInternals;
  const inputs = Object.entries(spec.inputs);
  const outputShapes = Object.values(spec.outputs);
  if (outputShapes.length + inputs.length > MAX_STORAGE_BUFFERS)
    throw new Error(`${spec.name}: ${outputShapes.length + inputs.length} storage buffers, WebGPU allows ${MAX_STORAGE_BUFFERS}`);
  for (const [name, t] of inputs) {
    if (t.dtype !== 'float32') throw new Error(`${spec.name}: input ${name} is ${t.dtype}, float32 expected`);
    b.uploadToGPU(t.dataId);
  }
  const outputs = outputShapes.map((shape) => b.makeTensorInfo(shape, 'float32'));
  for (const o of outputs) b.uploadToGPU(o.dataId);
  const bound = [...outputs.slice(1), ...inputs.map(([, t]) => t), outputs[0]];
  const workgroupSize = spec.workgroupSize ?? DEFAULT_WORKGROUP;

  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  const shaderKey = `${spec.name}|${spec.key ?? ''}|${bound.map((t) => t.shape.length).join(',')}|${workgroupSize.join(',')}`;
  let pipeline = cache.get(shaderKey);
  if (!pipeline) {
    const code = shaderSource(spec, bound.map((t) => t.shape));
    const module = b.device.createShaderModule({ code, label: spec.name });
    pipeline = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: spec.name });
    cache.set(shaderKey, pipeline);
  }
  const program: RecordedProgram = {
    constructor: { name: spec.name },
    pipeline,
    dispatch: spec.dispatch,
    shaderKey,
    outputShape: outputShapes[0],
    variableNames: [...Object.keys(spec.outputs).slice(1), ...inputs.map(([name]) => name)],
  };
  const uniforms = Object.values(spec.uniforms ?? {}).map((u) => ({ type: uniformType(u.type), data: [u.value] }));
  b.recordAndSubmit(program, outputs[0], bound.slice(0, -1), uniforms);
  return outputs;
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
