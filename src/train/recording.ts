import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import type { MocoVersion, LiveParams, MocoConfig } from '../moco/config';
import type { PresetName } from '../moco/resnet';
import { FileError } from '../util/fileError';
import type { DatasetIdentity, KnnPoint, ProbePoint } from './checkpoint';
import { STAT_FIELDS, type StatField, type StepRecord } from './stepFields';
import { WHERE_IT_GOES, ZIP_ENTRIES, zipKind } from '../util/zipKinds';

/**
 * A classroom recording: one training run as the app shows it, to replay where no GPU trains it
 * live. One zip of
 *
 * - `recording.json` (deflated): the format name and version, a title, where and how the run was
 *   made (date, device, backend, speed, command), its setup, every step's statistics as columns
 *   (the charts' series: the names of the Worker's `STAT_FIELDS`), the parameter changes (the
 *   charts' markers), every kNN and linear-probe result, each with the run's time when it was
 *   known, so that a replay keeps the run's pace;
 * - `checkpoint.zip` (deflated): the run's final checkpoint, the file `--checkpoint` writes
 *   (src/train/checkpoint.ts), which the app resumes to explore the final model.
 *
 * This module is plain data and fflate (no tfjs): the page reads recordings itself.
 */
export const RECORDING_FORMAT = 'moco-recording';
export const RECORDING_VERSION = 1;
export const RECORDING_MANIFEST = ZIP_ENTRIES.recordingManifest;
export const RECORDING_CHECKPOINT = 'checkpoint.zip';

/** The per-step series a recording keeps: every one the Worker streams to the charts. */
export const RECORDED_FIELDS = STAT_FIELDS;
export type RecordedField = StatField;
export type RecordedStep = StepRecord;

/** Where and how the run was made: the replay says it. */
export interface RecordingOrigin {
  /** ISO date of the end of the run. */
  date: string;
  /** The GPU (adapter) or the CPU, in words, e.g. "nvidia hopper (NVIDIA H200)". */
  device: string;
  /** The tfjs backend and how it ran, e.g. "WebGPU (Dawn), the project's kernels". */
  backend: string;
  /** Training speed over the run's steps (evaluations excluded). */
  imagesPerSecond: number;
  /** Seconds of training steps, and of the whole run with its evaluations. */
  trainSeconds: number;
  wallSeconds: number;
  /** The command line that made it. */
  command: string;
}

export interface RecordingSetup {
  preset: PresetName;
  method: MocoVersion;
  batchSize: number;
  config: MocoConfig;
  /** The training images (the final checkpoint checks its data against this). */
  dataset: DatasetIdentity;
  /** The held-out images the kNN monitor and the probe scored. */
  heldOut: { name: string; size: number } | null;
  steps: number;
  batchesPerEpoch: number;
}

/** A change of live parameters from step `fromStep` on: a marker on the charts. */
export interface RecordedChange {
  fromStep: number;
  params: Partial<LiveParams>;
}

export type RecordedKnn = KnnPoint & { elapsedMs: number };
export type RecordedProbe = ProbePoint & { elapsedMs: number };

export interface RecordingManifest {
  format: typeof RECORDING_FORMAT;
  version: number;
  title: string;
  made: RecordingOrigin;
  setup: RecordingSetup;
  /** Class names of the data, in label order. */
  classNames: string[];
  /** Every step, as one array per field (JSON writes NaN as null; the reader gives NaN back). */
  steps: { count: number; columns: Record<RecordedField, (number | null)[]> };
  changes: RecordedChange[];
  knn: RecordedKnn[];
  probes: RecordedProbe[];
  /** The final checkpoint's step and size in bytes. */
  checkpoint: { step: number; bytes: number };
}

export interface Recording {
  /** Where it was read from, as the user named it: every error names it. */
  file: string;
  manifest: RecordingManifest;
  /** Step statistics as columns, NaN where not measured. */
  columns: Record<RecordedField, Float64Array>;
  /** The final checkpoint's bytes (resume them to explore the final model). */
  checkpoint: Uint8Array;
}

/** A recording that cannot be read: the message names the file and the problem. */
export class RecordingError extends FileError {
  override readonly name = 'RecordingError';
}

/** What a recording holds besides its format fields and the checkpoint's size, which `encodeRecording` fills in. */
export type RecordingContent = Omit<RecordingManifest, 'format' | 'version' | 'steps' | 'checkpoint'> & { steps: readonly RecordedStep[] };

/** The recording's bytes: `content` and the final checkpoint, both deflated in one zip. */
export function encodeRecording(content: RecordingContent, checkpoint: Uint8Array, checkpointStep: number): Uint8Array {
  const { steps, ...rest } = content;
  const columns = Object.fromEntries(RECORDED_FIELDS.map((f) => [f, steps.map((s) => (Number.isFinite(s[f]) ? s[f] : null))])) as RecordingManifest['steps']['columns'];
  const manifest: RecordingManifest = {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    ...rest,
    steps: { count: steps.length, columns },
    checkpoint: { step: checkpointStep, bytes: checkpoint.byteLength },
  };
  return zipSync({
    [RECORDING_MANIFEST]: [strToU8(JSON.stringify(manifest)), { level: 9 }],
    [RECORDING_CHECKPOINT]: [checkpoint, { level: 6 }],
  });
}

/** Reads recording bytes; a truncated, damaged or foreign file, or another version, is a RecordingError naming `file`. */
export function decodeRecording(bytes: Uint8Array, file: string): Recording {
  const fail = (problem: string): never => {
    throw new RecordingError(file, problem);
  };
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    return fail(`not a readable recording: the zip is truncated or damaged (${(e as Error).message})`);
  }
  const json = entries[RECORDING_MANIFEST];
  if (!json) {
    const kind = zipKind(Object.keys(entries));
    return fail(kind ? `not a recording but ${WHERE_IT_GOES[kind]}` : `not a MoCo recording: it has no ${RECORDING_MANIFEST}`);
  }
  let m: RecordingManifest;
  try {
    m = JSON.parse(strFromU8(json)) as RecordingManifest;
  } catch (e) {
    return fail(`its ${RECORDING_MANIFEST} is damaged (${(e as Error).message})`);
  }
  if (m?.format !== RECORDING_FORMAT) fail(`not a MoCo recording (its ${RECORDING_MANIFEST} has format ${JSON.stringify(m?.format)})`);
  if (m.version !== RECORDING_VERSION) fail(`recording format version ${JSON.stringify(m.version)}; this app reads version ${RECORDING_VERSION} only`);
  const count = m.steps?.count;
  if (!Number.isInteger(count) || count < 1) fail(`it records no steps`);
  const columns = {} as Record<RecordedField, Float64Array>;
  for (const f of RECORDED_FIELDS) {
    const values = m.steps.columns?.[f];
    if (!Array.isArray(values) || values.length !== count) fail(`its series '${f}' is missing or not ${count} steps long`);
    columns[f] = Float64Array.from(values, (v) => (typeof v === 'number' ? v : Number.NaN));
  }
  for (let i = 1; i < count; i++) {
    if (!(columns.step[i] > columns.step[i - 1]) || !(columns.elapsedMs[i] >= columns.elapsedMs[i - 1])) fail(`its steps are out of order at step ${columns.step[i]}`);
  }
  const pointsOk = (points: unknown) =>
    Array.isArray(points) && points.every((p: { step?: unknown; accuracy?: unknown; elapsedMs?: unknown }) => Number.isInteger(p?.step) && typeof p.accuracy === 'number' && typeof p.elapsedMs === 'number');
  if (!pointsOk(m.knn) || !pointsOk(m.probes)) fail(`its kNN or probe history is damaged`);
  if (!Array.isArray(m.changes) || !m.changes.every((c) => Number.isInteger(c?.fromStep) && typeof c.params === 'object')) fail(`its parameter changes are damaged`);
  if (!m.setup?.config || !m.setup.dataset || !Array.isArray(m.classNames) || typeof m.made?.device !== 'string') fail(`its setup or origin is incomplete`);
  const checkpoint = entries[RECORDING_CHECKPOINT];
  if (!checkpoint) fail(`it has no final model (${RECORDING_CHECKPOINT})`);
  if (checkpoint.byteLength !== m.checkpoint?.bytes) fail(`its final model (${RECORDING_CHECKPOINT}) is damaged: ${checkpoint.byteLength} bytes, the manifest says ${m.checkpoint?.bytes}`);
  return { file, manifest: m, columns, checkpoint };
}

/** The index of shipped recordings (public/replay/index.json): each file relative to the index. */
export interface RecordingIndex {
  recordings: { file: string; title: string; description?: string }[];
}

/** The recordings an index lists; anything else (no index, a web page, bad JSON) lists none. */
export function parseRecordingIndex(text: string): RecordingIndex['recordings'] {
  try {
    const index = JSON.parse(text) as Partial<RecordingIndex>;
    return Array.isArray(index.recordings) ? index.recordings.filter((r) => typeof r?.file === 'string' && r.file !== '' && typeof r.title === 'string') : [];
  } catch {
    return [];
  }
}
