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

export type Uniform = { name: string; type: 'f32' | 'i32' | 'u32'; value: number };

export interface ProgramSpec {
  /** Shows in `tf.profile` timings and dispatch counts. */
  name: string;
  /** Identifies the compiled pipeline: whatever `code` depends on besides the binding names. */
  key: string;
  outputs: { name: string; shape: number[] }[];
  inputs: { name: string; tensor: tf.TensorInfo }[];
  uniforms?: Uniform[];
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  /**
   * The body of `fn main`, which has `gid`, `lid`, `wid` (vec3<u32>: global, local, workgroup
   * ids), `lidx` (u32 local index), `nwg` (vec3<u32>: workgroups dispatched); buffers are named as
   * in `outputs`/`inputs` (arrays of f32), uniforms are `u.<name>`. `declarations` go before main.
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

function shaderSource(spec: ProgramSpec, boundShapes: number[][]): string {
  const buffers = [...spec.outputs.map((o) => ({ name: o.name, access: 'read_write' })), ...spec.inputs.map((i) => ({ name: i.name, access: 'read' }))];
  // recordAndSubmit writes the shapes of [...outputs.slice(1), ...inputs, outputs[0]], each followed by its strides.
  const tfjsFields = boundShapes.map((s, i) => `_shape${i} : ${coordsType(s.length)}, _strides${i} : ${coordsType(s.length - 1)},`).join('\n  ');
  const ownFields = (spec.uniforms ?? []).map((u) => `${u.name} : ${u.type},`).join('\n  ');
  const wg = spec.workgroupSize;
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

/** Records one dispatch of `spec` on the webgpu backend and returns its outputs (float32). */
export function runProgram(backend: object, spec: ProgramSpec): tf.TensorInfo[] {
  const b = backend as unknown as WebGpuBackendInternals;
  if (spec.outputs.length + spec.inputs.length > MAX_STORAGE_BUFFERS)
    throw new Error(`${spec.name}: ${spec.outputs.length + spec.inputs.length} storage buffers, WebGPU allows ${MAX_STORAGE_BUFFERS}`);
  for (const i of spec.inputs) {
    if (i.tensor.dtype !== 'float32') throw new Error(`${spec.name}: input ${i.name} is ${i.tensor.dtype}, float32 expected`);
    b.uploadToGPU(i.tensor.dataId);
  }
  const outputs = spec.outputs.map((o) => b.makeTensorInfo(o.shape, 'float32'));
  for (const o of outputs) b.uploadToGPU(o.dataId);
  const bound = [...outputs.slice(1), ...spec.inputs.map((i) => i.tensor), outputs[0]];

  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  const shaderKey = `${spec.name}|${spec.key}|${bound.map((t) => t.shape.length).join(',')}|${spec.workgroupSize.join(',')}`;
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
    outputShape: spec.outputs[0].shape,
    variableNames: [...spec.outputs.slice(1), ...spec.inputs].map((v) => v.name),
  };
  const uniforms = (spec.uniforms ?? []).map((u) => ({ type: uniformType(u.type), data: [u.value] }));
  b.recordAndSubmit(program, outputs[0], bound.slice(0, -1), uniforms);
  return outputs;
}

/** Workgroups for `n` invocations of a 1-D grid-stride loop (256 invocations per workgroup). */
export function gridStride(n: number, perInvocation = 1): [number, number, number] {
  return [Math.max(1, Math.min(Math.ceil(n / (256 * perInvocation)), 4096)), 1, 1];
}

/** The loop header of a 1-D grid-stride loop over `count` elements (use with `gridStride`). */
export function gridStrideLoop(count: string, index = 'i'): string {
  return `for (var ${index} = i32(gid.x); ${index} < ${count}; ${index} += i32(nwg.x * 256u))`;
}
