import { unzipSync, zipSync } from 'fflate';
import type { Encoder } from '../moco/encoder';
import { BN_EPSILON } from '../moco/batchNorm';
import type { LiveParams, MocoConfig } from '../moco/config';
import { PRESETS } from '../moco/resnet';
import { WHERE_IT_GOES, ZIP_ENTRIES, zipKind } from '../util/zipKinds';
import { exportEncoder, WEIGHTS_FILE } from './layersModel';
import { readSafetensors, writeSafetensors } from './safetensors';
import { encoderStateDict, type TensorMap } from './stateDict';

/**
 * One download (or `--save`) of a trained encoder: the TensorFlow.js layers model, the same weights
 * as PyTorch-named safetensors, `metadata.json` saying how to feed the model and what it outputs,
 * and a `README.txt` with the lines that load it. The fields of `metadata.json` are documented in
 * the README ("Take it further in PyTorch").
 */
export const BUNDLE_FORMAT = 'moco-browser-model';
export const BUNDLE_FORMAT_VERSION = 1;
export const SAFETENSORS_FILE = ZIP_ENTRIES.weightsSafetensors;
const METADATA_FILE = ZIP_ENTRIES.weightsMetadata;
const TFJS_MODEL_FILE = ZIP_ENTRIES.weightsTfjs;
export const KEY_DIR = 'key';

export interface ModelMetadata {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  preset: string;
  mocoVersion: 'v1' | 'v2';
  architecture: { widths: number[]; blocks: number[]; head: 'linear' | 'mlp'; embeddingDim: number; batchNormEpsilon: number; convolutionPadding: string };
  input: { shape: [number, number, number]; layout: { tfjs: 'NHWC'; pytorch: 'NCHW' }; pixelRange: [number, number]; mean: number[]; std: number[]; preprocessing: string };
  outputs: { tfjs: string; features: string; embedding: string; l2Normalized: { features: boolean; embedding: boolean } };
  files: Record<string, string>;
  classNames: string[];
  dataset: string;
  step: number;
  setup: MocoConfig;
  liveParams: LiveParams;
  evaluation: { knn: { step: number; accuracy: number; k: number } | null; probe: { step: number; accuracy: number } | null };
  createdAt: string;
}

export interface BundleInfo {
  config: MocoConfig;
  liveParams: LiveParams;
  step: number;
  dataset: string;
  classNames: readonly string[];
  knn?: { step: number; accuracy: number; k: number } | null;
  probe?: { step: number; accuracy: number } | null;
  /** Where the user finds these files, for README.txt's commands: a `--save` folder or zip (default: the app's download name). */
  savedAs?: string;
}

/** The preset whose widths and blocks the architecture has ('custom' if none). */
export function presetName(arch: MocoConfig['arch']): string {
  return Object.entries(PRESETS).find(([, p]) => p.widths.join() === arch.widths.join() && p.blocks.join() === arch.blocks.join())?.[0] ?? 'custom';
}

/** `moco-resnet8-v2-step1200.zip` */
export function bundleName(info: Pick<BundleInfo, 'config' | 'step'>): string {
  return `moco-${presetName(info.config.arch)}-${info.config.arch.head === 'mlp' ? 'v2' : 'v1'}-step${info.step}.zip`;
}

export function modelMetadata(info: BundleInfo, includeKey: boolean): ModelMetadata {
  const { arch, augment } = info.config;
  const files: Record<string, string> = {
    [TFJS_MODEL_FILE]: 'query encoder, TensorFlow.js layers format (topology + weights manifest)',
    [WEIGHTS_FILE]: 'query encoder weights for model.json (float32)',
    [SAFETENSORS_FILE]: 'query encoder weights, PyTorch state_dict names and layouts (python/moco_torch.py)',
    [METADATA_FILE]: 'this file',
    'README.txt': 'how to load the model',
  };
  if (includeKey) {
    files[`${KEY_DIR}/model.json`] = 'momentum (key) encoder, TensorFlow.js layers format';
    files[`${KEY_DIR}/${WEIGHTS_FILE}`] = 'momentum encoder weights for key/model.json';
    files[`${KEY_DIR}/${SAFETENSORS_FILE}`] = 'momentum encoder weights, PyTorch names';
  }
  return {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    preset: presetName(arch),
    mocoVersion: arch.head === 'mlp' ? 'v2' : 'v1',
    architecture: { widths: [...arch.widths], blocks: [...arch.blocks], head: arch.head, embeddingDim: arch.embeddingDim, batchNormEpsilon: BN_EPSILON, convolutionPadding: "TensorFlow 'same' (stride 2: the extra row and column at the bottom and right)" },
    input: {
      shape: [32, 32, 3],
      layout: { tfjs: 'NHWC', pytorch: 'NCHW' },
      pixelRange: [0, 1],
      mean: [...augment.mean],
      std: [...augment.std],
      preprocessing: 'x = (pixels / 255 - mean) / std, per channel (RGB); no resizing beyond 32×32, no augmentation',
    },
    outputs: {
      tfjs: 'model.json outputs the projection head before L2 normalisation: divide each row by its L2 norm to get the embedding',
      features: 'pooled backbone features (global average pool of the last stage), what the kNN monitor and linear probe read after L2 normalisation',
      embedding: `the projection head's ${arch.embeddingDim}-d output, L2-normalised: what MoCo compares`,
      l2Normalized: { features: false, embedding: true },
    },
    files,
    classNames: [...info.classNames],
    dataset: info.dataset,
    step: info.step,
    setup: info.config,
    liveParams: info.liveParams,
    evaluation: { knn: info.knn ?? null, probe: info.probe ?? null },
    createdAt: new Date().toISOString(),
  };
}

/** Problems with a metadata.json against the documented fields; empty when it is valid. */
export function metadataProblems(m: unknown): string[] {
  const problems: string[] = [];
  const o = m as Record<string, unknown>;
  if (!o || typeof o !== 'object') return ['is not a JSON object'];
  const expect = (path: string, ok: boolean) => {
    if (!ok) problems.push(`field ${path} is missing or malformed`);
  };
  const numbers = (x: unknown, n?: number) => Array.isArray(x) && (n === undefined || x.length === n) && x.every((v) => typeof v === 'number' && Number.isFinite(v));
  expect('format', o.format === BUNDLE_FORMAT);
  expect('formatVersion', o.formatVersion === BUNDLE_FORMAT_VERSION);
  expect('preset', typeof o.preset === 'string');
  expect('mocoVersion', o.mocoVersion === 'v1' || o.mocoVersion === 'v2');
  const a = o.architecture as ModelMetadata['architecture'] | undefined;
  expect('architecture', !!a && numbers(a.widths) && numbers(a.blocks) && (a.head === 'linear' || a.head === 'mlp') && Number.isInteger(a.embeddingDim) && typeof a.batchNormEpsilon === 'number');
  const i = o.input as ModelMetadata['input'] | undefined;
  expect('input', !!i && numbers(i.shape, 3) && i.layout?.tfjs === 'NHWC' && i.layout?.pytorch === 'NCHW' && numbers(i.pixelRange, 2) && numbers(i.mean, 3) && numbers(i.std, 3) && typeof i.preprocessing === 'string');
  const out = o.outputs as ModelMetadata['outputs'] | undefined;
  expect('outputs', !!out && typeof out.tfjs === 'string' && typeof out.features === 'string' && typeof out.embedding === 'string' && out.l2Normalized?.embedding === true);
  expect('files', !!o.files && typeof o.files === 'object');
  expect('classNames', Array.isArray(o.classNames) && o.classNames.every((c) => typeof c === 'string'));
  expect('dataset', typeof o.dataset === 'string');
  expect('step', Number.isInteger(o.step) && (o.step as number) >= 0);
  expect('setup', !!o.setup && typeof o.setup === 'object' && typeof (o.setup as MocoConfig).batchSize === 'number');
  const lp = o.liveParams as LiveParams | undefined;
  expect('liveParams', !!lp && numbers([lp.momentum, lp.queueSize, lp.temperature, lp.learningRate]));
  const ev = o.evaluation as ModelMetadata['evaluation'] | undefined;
  expect('evaluation', !!ev && 'knn' in ev && 'probe' in ev);
  expect('createdAt', typeof o.createdAt === 'string' && !Number.isNaN(Date.parse(o.createdAt)));
  return problems;
}

function readme(meta: ModelMetadata, name: string): string {
  return `MoCo ${meta.mocoVersion} encoder, preset ${meta.preset}, after ${meta.step} steps (MoCo in the browser).

Input: ${meta.input.shape.join('×')} RGB images, ${meta.input.preprocessing}.
  mean ${meta.input.mean.join(', ')}  std ${meta.input.std.join(', ')}
  TensorFlow.js: NHWC. PyTorch: NCHW.
Output: model.json gives the projection head before L2 normalisation; normalise each row to get
  the ${meta.architecture.embeddingDim}-d embedding MoCo compares. metadata.json says everything else.

TensorFlow.js in a page (serve the unzipped files):
  const model = await tf.loadLayersModel('model.json');
  const embedding = tf.tidy(() => { const p = model.predict(x); return p.div(p.norm('euclidean', 1, true)); });

TensorFlow.js in Node (plain tfjs cannot read file://):
  const json = JSON.parse(fs.readFileSync('model.json', 'utf8'));
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(fs.readFileSync('weights.bin')).buffer }));

PyTorch (python/moco_torch.py from the repository; needs torch and numpy):
  import moco_torch
  net = moco_torch.load('model.safetensors')     # preset read from the file
  x = moco_torch.preprocess(uint8_images_nhwc)   # the transform above, to NCHW
  features, embedding = net.features(x), net.embed(x)

Continue training with PyTorch DistributedDataParallel (torchrun):
  torchrun --nproc_per_node=2 python/train_ddp.py --init ${shellWord(name)} --data cifar-10-batches-bin/ --out run/
  (CPU only: add --backend gloo; Debian's torch 1.13 on Python 3.11: add --redirects 1 --tee 1.
  The result, run/model.safetensors, opens in the app with "Load weights…" and in
  npm run train -- --init run/)
`;
}

/** A path as a shell takes it. */
function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

/** The bundle's files by path (the zip's entries, or what `--save DIR` writes). */
export async function modelBundleFiles(encoderQ: Encoder, encoderK: Encoder | null, info: BundleInfo): Promise<Map<string, Uint8Array>> {
  const meta = modelMetadata(info, !!encoderK);
  const st = { format: BUNDLE_FORMAT, preset: meta.preset, mocoVersion: meta.mocoVersion, step: String(info.step) };
  const files = new Map<string, Uint8Array>();
  const add = async (encoder: Encoder, dir: string, name: string) => {
    const layers = await exportEncoder(encoder, name);
    files.set(`${dir}${TFJS_MODEL_FILE}`, new TextEncoder().encode(layers.modelJson));
    files.set(`${dir}${WEIGHTS_FILE}`, new Uint8Array(layers.weights));
    files.set(`${dir}${SAFETENSORS_FILE}`, writeSafetensors(await encoderStateDict(encoder), { ...st, encoder: name }));
  };
  await add(encoderQ, '', 'moco_query_encoder');
  if (encoderK) await add(encoderK, `${KEY_DIR}/`, 'moco_key_encoder');
  files.set(METADATA_FILE, new TextEncoder().encode(`${JSON.stringify(meta, null, 2)}\n`));
  files.set('README.txt', new TextEncoder().encode(readme(meta, info.savedAs ?? bundleName(info))));
  return files;
}

/** The bundle as one zip (the app's "Download weights"). */
export async function modelBundleZip(encoderQ: Encoder, encoderK: Encoder | null, info: BundleInfo): Promise<{ name: string; zip: Uint8Array<ArrayBuffer> }> {
  const files = await modelBundleFiles(encoderQ, encoderK, info);
  // fflate allocates a plain ArrayBuffer (transferable out of the Worker).
  return { name: bundleName(info), zip: zipSync(Object.fromEntries(files), { level: 6 }) as Uint8Array<ArrayBuffer> };
}

export function unzipBundle(zip: Uint8Array): Map<string, Uint8Array> {
  return new Map(Object.entries(unzipSync(zip)));
}

/**
 * The query encoder's weights in a file the user gives: our zip (its `model.safetensors`) or a
 * safetensors file. Throws SafetensorsError or BundleError saying what is wrong.
 */
export function weightsFromFile(bytes: Uint8Array, fileName = ''): TensorMap {
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  // Named as a zip but not one: read as safetensors it would be called "not a safetensors file", which misleads.
  if (!isZip && /\.zip$/i.test(fileName)) {
    throw new BundleError('is not a zip archive, though its name ends in .zip: a file renamed, or a download cut short');
  }
  if (isZip) {
    let files;
    try {
      files = unzipBundle(bytes);
    } catch (e) {
      throw new BundleError(`the zip cannot be read (${(e as Error).message}); download it again`);
    }
    const tensors = bundleStateDict(files);
    const kind = zipKind(files.keys());
    if (!tensors && kind && kind !== 'weights') throw new BundleError(`not trained weights but ${WHERE_IT_GOES[kind]}`);
    if (!tensors) throw new BundleError(`the zip has no ${SAFETENSORS_FILE} (is it the app's "Download weights" zip?)`);
    return tensors;
  }
  return readSafetensors(bytes).tensors;
}

export class BundleError extends Error {}

/** The query encoder's state_dict of an unzipped bundle (`model.safetensors`). */
export function bundleStateDict(files: Map<string, Uint8Array>): TensorMap | null {
  const bytes = files.get(SAFETENSORS_FILE);
  return bytes ? readSafetensors(bytes).tensors : null;
}
