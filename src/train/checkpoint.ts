import * as tf from '@tensorflow/tfjs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import type { ImageDataset } from '../data/dataset';
import type { SamplerState } from '../data/sampler';
import type { LiveParams, MocoConfig, MocoVersion } from '../moco/config';
import type { Encoder } from '../moco/encoder';
import type { StepStats } from '../moco/moco';
import { PRESET_NAMES, PRESETS, type Architecture, type PresetName } from '../moco/resnet';
import type { RngState } from '../util/random';
import { FileError } from '../util/fileError';
import { Trainer } from './trainer';
import { WHERE_IT_GOES, ZIP_ENTRIES, zipKind } from '../util/zipKinds';

/**
 * One file holding a whole training run, for the app and the headless trainer alike: a zip with
 *
 * - `manifest.json`: format name and version, the setup (preset, method, the full MoCo
 *   configuration, whose `schedule.totalSteps` is the run's step budget, and the dataset's
 *   identity), the step count, the live parameters, both generators' states, the sampler's and the
 *   queue's positions, the run's history, the client's own settings, and an index of the tensors;
 * - `tensors.bin`: every tensor's values back to back, little-endian float32 or int32, stored
 *   uncompressed (weights do not compress), its SHA-256 in the manifest.
 *
 * Tensors, by name: `query/param/<layer>`, `query/bn/<layer>` (batch-norm moving statistics),
 * the same under `key/`, `sgd/velocity/<layer>` (the query parameters' SGD velocities),
 * `queue/keys` ([capacity, dim]), `queue/slot_steps` (the step that wrote each slot, −1 empty),
 * `sampler/order` (the current epoch's permutation of the training images).
 */
export const CHECKPOINT_FORMAT = 'moco-checkpoint';
export const CHECKPOINT_VERSION = 1;
const MANIFEST_FILE = ZIP_ENTRIES.checkpointManifest;
/** The entry that makes a zip a checkpoint (a model export has none). */
export const CHECKPOINT_MANIFEST = MANIFEST_FILE;
const TENSORS_FILE = 'tensors.bin';

/** What the images of a run were: a resumed run checks its data against it. */
export interface DatasetIdentity {
  name: string;
  size: number;
  classes: number;
  /** SHA-256 (hex) of the class names, the labels and the pixels. */
  sha256: string;
}

/** One point of the live charts (the app fills these; the headless trainer leaves them empty). */
export type ChartPoint = StepStats & { imagesPerSecond: number };

/** One kNN-monitor evaluation. */
export interface KnnPoint {
  step: number;
  /** The encoder output read: pooled backbone features or the projection head. */
  output: 'backbone' | 'head';
  k: number;
  accuracy: number;
  /** Accuracy per class, in class order (NaN where a class has no held-out image is written as null). */
  perClass: (number | null)[];
  bankSize: number;
  queryCount: number;
  seconds: number;
}

/** One linear-probe result. */
export interface ProbePoint {
  step: number;
  accuracy: number;
  perClass: (number | null)[];
  epochs: number;
  seconds: number;
}

export interface RunHistory {
  chart: ChartPoint[];
  knn: KnnPoint[];
  probes: ProbePoint[];
}

export function emptyHistory(): RunHistory {
  return { chart: [], knn: [], probes: [] };
}

export interface CheckpointSetup {
  preset: PresetName;
  method: MocoVersion;
  batchSize: number;
  config: MocoConfig;
  dataset: DatasetIdentity;
}

type TensorDtype = 'float32' | 'int32';

interface TensorEntry {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  /** Byte offset in tensors.bin. */
  offset: number;
  byteLength: number;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  savedAt: string;
  setup: CheckpointSetup;
  /** Steps trained: the next step is `step + 1`. */
  step: number;
  epoch: number;
  live: LiveParams;
  generators: { moco: RngState; sampler: RngState };
  sampler: { cursor: number; epochIndex: number };
  queue: { capacity: number; pointer: number; filled: number };
  history: RunHistory;
  /** The app's or the headless trainer's own settings (where the data came from, evaluation…). */
  client: Record<string, unknown>;
  tensors: TensorEntry[];
  tensorsSha256: string;
}

export interface Checkpoint {
  /** Where it was read from, as the user named it: every error names it. */
  file: string;
  manifest: CheckpointManifest;
  tensors: Map<string, { dtype: TensorDtype; shape: number[]; values: Float32Array | Int32Array }>;
}

/** A checkpoint that cannot be read or does not fit: the message names the file and the problem. */
export class CheckpointError extends FileError {
  override readonly name = 'CheckpointError';
}

/** The identity of a dataset, to recognise it again when a run resumes. */
export async function datasetIdentity(ds: ImageDataset): Promise<DatasetIdentity> {
  const names = strToU8(JSON.stringify(ds.classNames));
  const bytes = new Uint8Array(names.length + ds.labels.length + ds.images.length);
  bytes.set(names, 0);
  bytes.set(ds.labels, names.length);
  bytes.set(ds.images, names.length + ds.labels.length);
  return { name: ds.name, size: ds.size, classes: ds.classNames.length, sha256: await sha256Hex(bytes) };
}

/** What differs between the recorded dataset and the one given, in words; null when they are the same. */
export function datasetMismatch(recorded: DatasetIdentity, given: DatasetIdentity): string | null {
  if (recorded.sha256 === given.sha256) return null;
  const differences: string[] = [];
  if (recorded.name !== given.name) differences.push(`it is ${given.name}, not ${recorded.name}`);
  if (recorded.size !== given.size) differences.push(`it has ${given.size} images, not ${recorded.size}`);
  if (recorded.classes !== given.classes) differences.push(`it has ${given.classes} classes, not ${recorded.classes}`);
  if (differences.length === 0) differences.push(`the same name and size, but other images or labels (content hash ${given.sha256.slice(0, 12)}…, recorded ${recorded.sha256.slice(0, 12)}…)`);
  return differences.join('; ');
}

/**
 * The run's whole training state as checkpoint bytes. Reads tensors back asynchronously (GPU
 * friendly). `dataset` is the trainer's dataset's identity (computed when not given: the app keeps
 * it, since hashing the images takes a moment); `history`, the charts' points, is empty unless given.
 */
export async function encodeCheckpoint(
  trainer: Trainer,
  info: { dataset?: DatasetIdentity; history?: RunHistory; client?: Record<string, unknown> } = {},
): Promise<Uint8Array> {
  const { moco, config } = trainer;
  const state = moco.trainingState();
  const sampler = trainer.sampler.state();
  const queue = moco.queue;
  const parts: { name: string; values: Float32Array | Int32Array; shape: number[] }[] = [];
  const addVariable = async (name: string, v: tf.Tensor) => parts.push({ name, values: (await v.data()) as Float32Array, shape: v.shape });
  for (const [scope, encoder] of [['query', moco.encoderQ], ['key', moco.encoderK]] as const) {
    for (const [name, v] of encoder.parameters) await addVariable(`${scope}/param/${name}`, v);
    for (const [name, v] of encoder.bnStatistics) await addVariable(`${scope}/bn/${name}`, v);
  }
  for (const [name, v] of state.velocities) await addVariable(`sgd/velocity/${name}`, v);
  await addVariable('queue/keys', queue.keys);
  parts.push({ name: 'queue/slot_steps', values: queue.slotSteps(), shape: [queue.capacity] });
  parts.push({ name: 'sampler/order', values: sampler.order, shape: [sampler.order.length] });

  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const p of parts) {
    tensors.push({ name: p.name, dtype: p.values instanceof Int32Array ? 'int32' : 'float32', shape: p.shape, offset, byteLength: p.values.byteLength });
    offset += p.values.byteLength;
  }
  const blob = new Uint8Array(offset);
  parts.forEach((p, i) => blob.set(littleEndianBytes(p.values), tensors[i].offset));

  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    setup: { preset: presetOf(config), method: config.arch.head === 'mlp' ? 'v2' : 'v1', batchSize: config.batchSize, config, dataset: info.dataset ?? (await datasetIdentity(trainer.dataset)) },
    step: state.step,
    epoch: trainer.sampler.epoch,
    live: state.live,
    generators: { moco: state.rng, sampler: sampler.rng },
    sampler: { cursor: sampler.cursor, epochIndex: sampler.epochIndex },
    queue: { capacity: queue.capacity, ...queue.position },
    history: info.history ?? emptyHistory(),
    client: info.client ?? {},
    tensors,
    tensorsSha256: await sha256Hex(blob),
  };
  return zipSync({
    [MANIFEST_FILE]: strToU8(JSON.stringify(manifest, null, 1)),
    [TENSORS_FILE]: [blob, { level: 0 }],
  });
}

/** Reads checkpoint bytes; a truncated, garbled or foreign file, or another version, is a CheckpointError naming `file`. */
export async function decodeCheckpoint(bytes: Uint8Array, file: string): Promise<Checkpoint> {
  const { manifest, entries } = readManifest(bytes, file, () => true);
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem);
  };
  const blob = entries[TENSORS_FILE];
  if (!blob) fail(`the checkpoint has no ${TENSORS_FILE}`);
  if ((await sha256Hex(blob)) !== manifest.tensorsSha256) fail(`the checkpoint's tensors are damaged (their SHA-256 differs from the manifest's)`);
  const tensors: Checkpoint['tensors'] = new Map();
  for (const t of manifest.tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.byteLength !== count * 4 || t.offset % 4 !== 0 || t.offset < 0 || t.offset + t.byteLength > blob.length) {
      fail(`tensor '${t.name}' (shape [${t.shape}]) does not fit ${TENSORS_FILE}`);
    }
    const bytes = fromLittleEndian(blob.subarray(t.offset, t.offset + t.byteLength));
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, values: t.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer) });
  }
  return { file, manifest, tensors };
}

/**
 * Only the manifest of checkpoint bytes (setup, live parameters, chart and kNN history), checked as
 * `decodeCheckpoint` checks it, without reading the tensors: what a list or a chart of saved runs needs.
 */
export function decodeCheckpointManifest(bytes: Uint8Array, file: string): CheckpointManifest {
  return readManifest(bytes, file, (name) => name === MANIFEST_FILE).manifest;
}

function readManifest(bytes: Uint8Array, file: string, entry: (name: string) => boolean): { manifest: CheckpointManifest; entries: Record<string, Uint8Array> } {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem);
  };
  let entries: Record<string, Uint8Array>;
  const names: string[] = [];
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        names.push(f.name);
        return entry(f.name);
      },
    });
  } catch (e) {
    return fail(`not a readable checkpoint: the zip is truncated or damaged (${(e as Error).message})`);
  }
  if (!entries[MANIFEST_FILE]) {
    const kind = zipKind(names);
    fail(kind ? `not a saved run but ${WHERE_IT_GOES[kind]}` : `not a MoCo checkpoint: it has no ${MANIFEST_FILE}`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(strFromU8(entries[MANIFEST_FILE])) as CheckpointManifest;
  } catch (e) {
    return fail(`the checkpoint's ${MANIFEST_FILE} is damaged (${(e as Error).message})`);
  }
  if (manifest?.format !== CHECKPOINT_FORMAT) fail(`not a MoCo checkpoint (its manifest has format ${JSON.stringify(manifest?.format)})`);
  if (manifest.version !== CHECKPOINT_VERSION) {
    fail(`checkpoint format version ${JSON.stringify(manifest.version)}; this version of the trainer reads version ${CHECKPOINT_VERSION} only`);
  }
  checkManifestShape(manifest, fail);
  return { manifest, entries };
}

/**
 * A Trainer on `dataset` in the exact state of the checkpoint: its next step is the one the saved
 * run would have taken. `totalSteps` extends (or sets) the step budget, and so the schedule's end.
 * The caller checks the dataset first (`datasetMismatch`).
 */
export function restoreTrainer(checkpoint: Checkpoint, dataset: ImageDataset, options: { totalSteps?: number } = {}): Trainer {
  const { manifest: m, file } = checkpoint;
  const saved = m.setup.config;
  const config: MocoConfig = { ...saved, schedule: { ...saved.schedule, totalSteps: options.totalSteps ?? saved.schedule.totalSteps } };
  let trainer: Trainer;
  try {
    trainer = new Trainer(config, dataset);
  } catch (e) {
    throw new CheckpointError(file, `its setup cannot run here: ${(e as Error).message}`);
  }
  const made: tf.Tensor[] = [];
  const tensor = (name: string, shape?: readonly number[]): tf.Tensor => {
    const t = checkpoint.tensors.get(name);
    if (!t) throw new Error(`it has no tensor '${name}'`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`tensor '${name}' has shape [${t.shape}], the ${m.setup.preset} setup needs [${shape}]`);
    }
    const out = tf.tensor(t.values, t.shape, t.dtype);
    made.push(out);
    return out;
  };
  const ints = (name: string): Int32Array => {
    const t = checkpoint.tensors.get(name);
    if (!t || t.dtype !== 'int32') throw new Error(`it has no int32 tensor '${name}'`);
    return t.values as Int32Array;
  };
  try {
    restoreEncoder(trainer.moco.encoderQ, 'query', tensor);
    restoreEncoder(trainer.moco.encoderK, 'key', tensor);
    const velocities = new Map<string, tf.Tensor>();
    for (const [name, theta] of trainer.moco.encoderQ.parameters) {
      if (checkpoint.tensors.has(`sgd/velocity/${name}`)) velocities.set(name, tensor(`sgd/velocity/${name}`, theta.shape));
    }
    trainer.moco.restoreTrainingState({ step: m.step, rng: m.generators.moco, live: m.live, velocities });
    const slotSteps = ints('queue/slot_steps');
    trainer.moco.queue.restore(tensor('queue/keys', [slotSteps.length, config.arch.embeddingDim]) as tf.Tensor2D, slotSteps, m.queue);
    const sampler: SamplerState = { order: ints('sampler/order'), cursor: m.sampler.cursor, epochIndex: m.sampler.epochIndex, rng: m.generators.sampler };
    trainer.sampler.restore(sampler);
  } catch (e) {
    trainer.dispose();
    throw new CheckpointError(file, `does not fit its own setup: ${(e as Error).message}`);
  } finally {
    tf.dispose(made);
  }
  return trainer;
}

/**
 * A new run's start from a saved run's weights (`--init`): the checkpoint's query encoder, parameters
 * and batch-norm moving statistics, into `encoder`. A checkpoint of another architecture is refused,
 * saying what differs; nothing is changed then.
 */
export function loadQueryEncoder(checkpoint: Checkpoint, encoder: Encoder): void {
  const saved = checkpoint.manifest.setup.config.arch;
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const want = encoder.arch;
  if (!same(saved.widths, want.widths) || !same(saved.blocks, want.blocks) || saved.head !== want.head || saved.embeddingDim !== want.embeddingDim) {
    const describe = (a: Architecture) => `widths ${a.widths.join('/')}, blocks ${a.blocks.join('/')}, ${a.head} head, ${a.embeddingDim}-d embedding`;
    throw new CheckpointError(checkpoint.file, `holds a ${checkpoint.manifest.setup.preset} run (${describe(saved)}), but this run builds ${describe(want)}`);
  }
  const fits = (name: string, shape: readonly number[]) => {
    const t = checkpoint.tensors.get(name);
    return !!t && t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  };
  // Every tensor is checked before the first is assigned, so a bad file leaves the encoder as it was.
  for (const [scope, vars] of [['param', encoder.parameters], ['bn', encoder.bnStatistics]] as const) {
    for (const [name, v] of vars) {
      if (!fits(`query/${scope}/${name}`, v.shape)) throw new CheckpointError(checkpoint.file, `its tensor 'query/${scope}/${name}' is missing or not of shape [${v.shape}]`);
    }
  }
  const made: tf.Tensor[] = [];
  try {
    restoreEncoder(encoder, 'query', (name) => {
      const t = checkpoint.tensors.get(name)!;
      const out = tf.tensor(t.values, t.shape, t.dtype);
      made.push(out);
      return out;
    });
  } finally {
    tf.dispose(made);
  }
}

function restoreEncoder(encoder: Encoder, scope: string, tensor: (name: string, shape: readonly number[]) => tf.Tensor): void {
  for (const [name, v] of encoder.parameters) v.assign(tensor(`${scope}/param/${name}`, v.shape));
  for (const [name, v] of encoder.bnStatistics) v.assign(tensor(`${scope}/bn/${name}`, v.shape));
}

/** The preset whose widths and blocks the configuration has. */
function presetOf(config: MocoConfig): PresetName {
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const name = PRESET_NAMES.find((p) => same(PRESETS[p].widths, config.arch.widths) && same(PRESETS[p].blocks, config.arch.blocks));
  if (!name) throw new Error(`the architecture (widths ${config.arch.widths}, blocks ${config.arch.blocks}) is no preset`);
  return name;
}

/** Enough of the manifest's shape checked that reading it cannot throw a TypeError. */
function checkManifestShape(m: CheckpointManifest, fail: (problem: string) => never): void {
  const isInt = (x: unknown) => Number.isInteger(x);
  const ok =
    m.setup?.config?.arch !== undefined &&
    typeof m.setup.dataset?.sha256 === 'string' &&
    isInt(m.step) &&
    m.live !== undefined &&
    Array.isArray(m.generators?.moco) &&
    Array.isArray(m.generators?.sampler) &&
    isInt(m.sampler?.cursor) &&
    isInt(m.sampler?.epochIndex) &&
    isInt(m.queue?.pointer) &&
    isInt(m.queue?.filled) &&
    Array.isArray(m.history?.knn) &&
    Array.isArray(m.tensors) &&
    m.tensors.every((t) => typeof t?.name === 'string' && (t.dtype === 'float32' || t.dtype === 'int32') && Array.isArray(t.shape) && isInt(t.offset) && isInt(t.byteLength)) &&
    typeof m.tensorsSha256 === 'string';
  if (!ok) fail(`the checkpoint's ${MANIFEST_FILE} is incomplete or damaged`);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The bytes of 32-bit values in little-endian order (a copy on big-endian hosts). */
function littleEndianBytes(values: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return HOST_IS_LITTLE_ENDIAN ? bytes : swap32(bytes);
}

/** Host-order bytes of little-endian 32-bit values, in a buffer of their own (aligned). */
function fromLittleEndian(bytes: Uint8Array): Uint8Array {
  return HOST_IS_LITTLE_ENDIAN ? bytes.slice() : swap32(bytes);
}

function swap32(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    out[i] = bytes[i + 3];
    out[i + 1] = bytes[i + 2];
    out[i + 2] = bytes[i + 1];
    out[i + 3] = bytes[i];
  }
  return out;
}
