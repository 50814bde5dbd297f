/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs';
import { SgdMomentum } from '../../moco/sgd';
import { normal, type CustomKernel } from '../declaration';

/**
 * Our programs recorded with their uniform buffers and bind groups kept from step to step
 * (opt-in `BindingCache`, issue #15's lever 4: the host's cost of a dispatch). tfjs's
 * `recordAndSubmit` builds, for every dispatch, the uniforms' bytes, a uniform buffer from its pool
 * with `queue.writeBuffer`, the pipeline's bind-group layout and a new bind group, and releases the
 * uniform buffer after the submit; a MoCo step's shapes never change, and its tensors mostly get the
 * same buffers back from tfjs's pool every step, so all of that can be found instead of made:
 *
 * - a uniform buffer per distinct content (the bound shapes and the program's own values), written
 *   once when made and never again, so that two dispatches in one command buffer can never see each
 *   other's values (a rewritten buffer would be read by every dispatch of the submit at its last
 *   value);
 * - a bind group per pipeline, storage buffers and uniform buffer (the GPUBuffer objects
 *   themselves), and the bind-group layout once per pipeline.
 *
 * The rest is what `recordAndSubmit` does: the backend's command encoder and compute pass, its count
 * of dispatches per submit (`WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`), and its record of the tensors that
 * commands not yet submitted use (`commandQueueOwnedIds`: their buffers go back to the pool only after
 * the submit). Under `tf.profile` (timestamp queries per dispatch) programs go tfjs's way. Both caches
 * are bounded: least recently used entries go first, a uniform buffer only once no command waiting
 * to be submitted uses it (then with the bind groups that bind it).
 *
 * Relies on tfjs-backend-webgpu 4.22 internals, as `program.ts` does.
 */

interface RecordingBackend {
  device: GPUDevice;
  queue: GPUQueue;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers: unknown[] | null;
  tensorMap: { get(dataId: object): { resource?: unknown } | undefined };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** What the cached path records: the program's pipeline, grid and name. */
export interface CachedDispatch {
  name: string;
  shaderKey: string;
  pipeline: GPUComputePipeline;
  dispatch: [number, number, number];
}

interface UniformEntry {
  buffer: GPUBuffer;
  /** The command encoder that last recorded a dispatch using it: while that one is the backend's, it is not submitted yet. */
  encoder: GPUCommandEncoder | null;
  bindGroups: string[];
}

interface Cache {
  uniforms: Map<string, UniformEntry>;
  bindGroups: Map<string, GPUBindGroup>;
  layouts: WeakMap<GPUComputePipeline, GPUBindGroupLayout>;
  hits: number;
  misses: number;
}

/** Entries kept per device (a MoCo step has a few hundred distinct dispatches). */
const MAX_UNIFORMS = 4096;
const MAX_BIND_GROUPS = 8192;

let on = false;
const caches = new WeakMap<GPUDevice, Cache>();
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
let listener: ((name: string) => void) | null = null;

/** Switched by the registry (`include: ['BindingCache']`). */
export function setBindingCache(value: boolean): void {
  on = value;
}

/** Whether our programs record through the caches now (off under `tf.profile`, which times each dispatch tfjs's way). */
export function bindingCacheActive(backend: object): boolean {
  return on && (backend as RecordingBackend).activeTimers == null;
}

/** Called with the program's name for each dispatch recorded here (the dispatch counter's per-program breakdown). */
export function onCachedDispatch(f: ((name: string) => void) | null): void {
  listener = f;
}

/** Bind groups found and made so far on `backend`'s device (how well the cache works). */
export function bindingCacheStats(backend: object): { hits: number; misses: number; bindGroups: number; uniformBuffers: number } {
  const c = caches.get((backend as RecordingBackend).device);
  return c ? { hits: c.hits, misses: c.misses, bindGroups: c.bindGroups.size, uniformBuffers: c.uniforms.size } : { hits: 0, misses: 0, bindGroups: 0, uniformBuffers: 0 };
}

function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

function stridesOf(shape: readonly number[]): number[] {
  const strides: number[] = [];
  for (let i = shape.length - 2, s = 1; i >= 0; i--) strides.unshift((s *= shape[i + 1]));
  return strides;
}

/**
 * The uniforms' bytes exactly as tfjs's `makeUniforms` lays them out: NaN, Infinity, then each bound
 * tensor's shape and strides (int32), then the program's own values, each aligned as WGSL wants
 * (4 bytes for a scalar, 8 for vec2, 16 for vec3 and vec4, and 16 after a 5- or 6-vector).
 */
function uniformBytes(shapes: readonly (readonly number[])[], own: readonly { type: string; data: number[] }[]): ArrayBuffer {
  const fields: { type: string; data: readonly number[] }[] = [
    { type: 'float32', data: [NaN] },
    { type: 'float32', data: [Infinity] },
  ];
  for (const s of shapes) fields.push({ type: 'int32', data: s.length ? s : [1] }, { type: 'int32', data: s.length > 1 ? stridesOf(s) : [1] });
  fields.push(...own);
  const offsets: number[] = [];
  let offset = 0;
  let previous = 0;
  let maxAlign = 1;
  for (const f of fields) {
    const n = f.data.length;
    let align = n === 1 ? 4 : n === 2 ? 8 : 16;
    if (previous === 5 || previous === 6) align = 16;
    maxAlign = Math.max(maxAlign, align);
    offset = Math.ceil(offset / align) * align;
    offsets.push(offset);
    offset += n * 4;
    previous = n;
  }
  const bytes = new ArrayBuffer(Math.ceil(offset / maxAlign) * maxAlign);
  fields.forEach((f, i) => {
    const View = f.type === 'int32' ? Int32Array : f.type === 'uint32' ? Uint32Array : Float32Array;
    new View(bytes, offsets[i], f.data.length).set(f.data);
  });
  return bytes;
}

function evict(cache: Cache, b: RecordingBackend): void {
  while (cache.bindGroups.size > MAX_BIND_GROUPS) cache.bindGroups.delete(cache.bindGroups.keys().next().value!);
  if (cache.uniforms.size <= MAX_UNIFORMS) return;
  for (const [key, entry] of cache.uniforms) {
    if (cache.uniforms.size <= MAX_UNIFORMS * 0.75) break;
    if (entry.encoder !== null && entry.encoder === b.commandEncoder) continue;
    cache.uniforms.delete(key);
    for (const g of entry.bindGroups) cache.bindGroups.delete(g);
    // Submitted work that binds it keeps it alive until done (WebGPU's destroy waits for it).
    entry.buffer.destroy();
  }
}

/**
 * Records one dispatch of ours (`program.ts`): `output` first, then `inputs` (the other writable and
 * read-only tensors, in binding order), then the uniforms; `shapes` are the shapes tfjs's layout
 * writes (the inputs' then the output's).
 */
export function recordCached(backend: object, program: CachedDispatch, output: tf.TensorInfo, inputs: readonly tf.TensorInfo[], own: readonly { type: string; data: number[] }[]): void {
  const b = backend as RecordingBackend;
  let cache = caches.get(b.device);
  if (!cache) caches.set(b.device, (cache = { uniforms: new Map(), bindGroups: new Map(), layouts: new WeakMap(), hits: 0, misses: 0 }));
  const tensors = [output, ...inputs];
  const shapes = [...inputs.map((t) => t.shape), output.shape];
  let uniformKey = `${program.shaderKey}|${shapes.join(';')}|`;
  for (const u of own) uniformKey += `${u.type[0]}${u.data.join(',')};`;
  let uniform = cache.uniforms.get(uniformKey);
  if (uniform) {
    // Most recently used last: eviction takes the first.
    cache.uniforms.delete(uniformKey);
    cache.uniforms.set(uniformKey, uniform);
  } else {
    const bytes = uniformBytes(shapes, own);
    const buffer = b.device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: `${program.name} uniforms` });
    b.queue.writeBuffer(buffer, 0, bytes);
    cache.uniforms.set(uniformKey, (uniform = { buffer, encoder: null, bindGroups: [] }));
  }
  const buffers = tensors.map((t) => b.tensorMap.get(t.dataId)!.resource as GPUBuffer);
  let groupKey = `${program.shaderKey}|${bufferId(uniform.buffer)}`;
  for (const buffer of buffers) groupKey += `,${bufferId(buffer)}`;
  let group = cache.bindGroups.get(groupKey);
  if (group) {
    cache.hits++;
    cache.bindGroups.delete(groupKey);
    cache.bindGroups.set(groupKey, group);
  } else {
    cache.misses++;
    let layout = cache.layouts.get(program.pipeline);
    if (!layout) cache.layouts.set(program.pipeline, (layout = program.pipeline.getBindGroupLayout(0)));
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
    entries.push({ binding: buffers.length, resource: { buffer: uniform.buffer } });
    group = b.device.createBindGroup({ layout, entries, label: program.name });
    cache.bindGroups.set(groupKey, group);
    uniform.bindGroups.push(groupKey);
  }
  // As recordAndSubmit: these tensors' buffers return to the pool only after this command buffer is submitted.
  for (const t of tensors) b.commandQueueOwnedIds.add(t.dataId);
  b.ensureCommandEncoderReady();
  uniform.encoder = b.commandEncoder;
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  const pass = b.computePassEncoder;
  pass.setPipeline(program.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(program.dispatch[0], program.dispatch[1], program.dispatch[2]);
  listener?.(program.name);
  b.dispatchCountInPass++;
  if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  if (cache.uniforms.size > MAX_UNIFORMS || cache.bindGroups.size > MAX_BIND_GROUPS) evict(cache, b);
}

/**
 * The switch (`BindingCache`, opt-in): a way of recording that every program of ours shares, with
 * no kernel of its own (`setOn`, as `GemmWideTiles`). Its case runs SGD's in-place update (our
 * `MocoSgdMomentumInPlace` program) four times with a different learning rate each time, so that the
 * later calls find their bind groups cached and their uniforms must still be this call's: a stale
 * uniform buffer would apply the wrong rate.
 */
export const bindingCache: CustomKernel = {
  name: 'BindingCache',
  optIn: true,
  setOn: setBindingCache,
  cases: [
    {
      name: 'binding cache: SGD in place ×4, each step its own learning rate',
      program: 'MocoSgdMomentumInPlace',
      run: () => {
        const shapes = [[3, 3, 4, 8], [8], [37]];
        // Variables that own their buffers (tf.variable shares its initial value's until that is disposed): updated in place.
        const thetas = shapes.map((s, i) => {
          const init = normal(s, 300 + i);
          const v = tf.variable(init, true);
          init.dispose();
          return v;
        });
        const sgd = new SgdMomentum(0.9, 5e-4);
        for (const [k, lr] of [0.1, 0.05, 0.1, 0.02].entries()) sgd.applyGradients(new Map(thetas.map((t, i) => [t, normal(shapes[i], 320 + 10 * k + i)])), lr);
        sgd.dispose();
        const out = Object.fromEntries(thetas.map((t, i) => [`theta${i}`, t.clone()]));
        tf.dispose(thetas);
        return out;
      },
    },
  ],
};
