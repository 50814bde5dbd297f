import * as tf from '@tensorflow/tfjs';
import type { Encoder } from '../moco/encoder';
import { PRESETS, type Architecture, type HeadKind } from '../moco/resnet';

/**
 * The encoder's weights under PyTorch `state_dict` names and layouts, as `python/moco_torch.py`
 * defines the same network: `stem_conv.weight` (convolutions OIHW), `head_fc.weight` (linear
 * `[out, in]`), `stem_bn.weight / bias / running_mean / running_var` (batch-norm).
 */
export type TensorMap = Map<string, { shape: number[]; data: Float32Array }>;

const BN_NAMES: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };

/** tfjs key (`layer/kernel`) and tfjs shape → PyTorch key and the permutation to its layout. */
function toTorch(key: string, shape: number[]): { name: string; perm?: number[] } {
  const [layer, weight] = key.split('/');
  if (weight === 'kernel') return { name: `${layer}.weight`, perm: shape.length === 4 ? [3, 2, 0, 1] : [1, 0] };
  if (weight === 'bias') return { name: `${layer}.bias` };
  return { name: `${layer}.${BN_NAMES[weight]}` };
}

/** The encoder's parameters and batch-norm statistics as a PyTorch state_dict. */
export async function encoderStateDict(encoder: Encoder): Promise<TensorMap> {
  const out: TensorMap = new Map();
  for (const [key, v] of [...encoder.parameters, ...encoder.bnStatistics]) {
    const { name, perm } = toTorch(key, v.shape);
    const t = perm ? tf.transpose(v, perm) : v;
    try {
      out.set(name, { shape: t.shape, data: (await t.data()) as Float32Array });
    } finally {
      if (t !== v) t.dispose();
    }
  }
  return out;
}

/** What a state_dict's shapes say about the network that wrote it. */
export interface FoundArchitecture {
  widths: number[];
  blocks: number[];
  head: HeadKind;
  embeddingDim: number;
  preset?: string;
}

export function describeArchitecture(a: { widths: readonly number[]; blocks: readonly number[]; head: HeadKind; embeddingDim: number }): string {
  const preset = Object.entries(PRESETS).find(([, p]) => same(p.widths, a.widths) && same(p.blocks, a.blocks))?.[0];
  return `${preset ?? 'a custom ResNet'} (widths ${a.widths.join('/')}, blocks ${a.blocks.join('/')}), ${a.head === 'mlp' ? 'MLP head (MoCo v2)' : 'linear head (MoCo v1)'}, ${a.embeddingDim}-d embedding`;
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Reads the architecture off a PyTorch-named state_dict's shapes. */
export function architectureOf(tensors: TensorMap): FoundArchitecture | null {
  const widths: number[] = [];
  const blocks: number[] = [];
  for (let s = 0; tensors.has(`s${s}b0_conv1.weight`); s++) {
    widths.push(tensors.get(`s${s}b0_conv1.weight`)!.shape[0]);
    let b = 0;
    while (tensors.has(`s${s}b${b}_conv1.weight`)) b++;
    blocks.push(b);
  }
  const last = tensors.get('head_fc2.bias') ?? tensors.get('head_fc.bias');
  if (!widths.length || !last) return null;
  return { widths, blocks, head: tensors.has('head_fc1.weight') ? 'mlp' : 'linear', embeddingDim: last.shape[0] };
}

export class WeightsMismatchError extends Error {}

/** The state_dict without DistributedDataParallel's `module.` prefix and PyTorch's batch-norm counters. */
function plainNames(tensors: TensorMap): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, t] of tensors) {
    const plain = name.replace(/^module\./, '');
    if (!plain.endsWith('num_batches_tracked')) out.set(plain, t);
  }
  return out;
}

/** Why the state_dict cannot go into a network of this architecture ("holds …, but this run builds …"), or null. */
export function architectureMismatch(tensors: TensorMap, want: Architecture): string | null {
  const stripped = plainNames(tensors);
  const found = architectureOf(stripped);
  if (!found) return `holds no MoCo ResNet weights (no stem_conv / s0b0_conv1 / head_fc tensors; found ${[...stripped.keys()].slice(0, 5).join(', ') || 'nothing'})`;
  if (!same(found.widths, want.widths) || !same(found.blocks, want.blocks) || found.head !== want.head || found.embeddingDim !== want.embeddingDim) {
    return `holds ${describeArchitecture(found)}, but this run builds ${describeArchitecture(want)}`;
  }
  return null;
}

/**
 * Copies a PyTorch-named state_dict into the encoder (parameters and batch-norm statistics).
 * Throws WeightsMismatchError, saying what differs, when the file holds another network; then the
 * encoder is left as it was. PyTorch's `num_batches_tracked` counters have no counterpart here.
 */
export function loadStateDict(encoder: Encoder, tensors: TensorMap): void {
  const mismatch = architectureMismatch(tensors, encoder.arch);
  if (mismatch) throw new WeightsMismatchError(mismatch);
  const stripped = plainNames(tensors);
  const updates: [tf.Variable, tf.Tensor][] = [];
  for (const [key, v] of [...encoder.parameters, ...encoder.bnStatistics]) {
    const { name, perm } = toTorch(key, v.shape);
    const t = stripped.get(name);
    const torchShape = perm ? perm.map((p) => v.shape[p]) : v.shape;
    if (!t) throw new WeightsMismatchError(`has no tensor ${name} (shape [${torchShape}])`);
    if (!same(t.shape, torchShape)) throw new WeightsMismatchError(`has ${name} of shape [${t.shape}], expected [${torchShape}]`);
    const inverse = perm?.map((_, i) => perm.indexOf(i));
    updates.push([v, tf.tidy(() => (inverse ? tf.transpose(tf.tensor(t.data, t.shape), inverse) : tf.tensor(t.data, t.shape)))]);
  }
  // Assigned only once every tensor has checked out: a bad file leaves the encoder as it was.
  for (const [v, t] of updates) {
    v.assign(t);
    t.dispose();
  }
}

/** A tfjs layers-format weight list (`stem_conv/kernel` …) converted to PyTorch names and layouts. */
export function tfjsWeightsToStateDict(weights: { name: string; shape: number[]; data: Float32Array }[]): TensorMap {
  const out: TensorMap = new Map();
  for (const w of weights) {
    // Layer names are ours (the export names every layer with weights); the suffix is the weight's.
    const match = /([^/]+)\/([^/]+)$/.exec(w.name.replace(/_\d+$/, ''));
    if (!match) continue;
    const key = `${match[1]}/${match[2]}`;
    const { name, perm } = toTorch(key, w.shape);
    const t = tf.tidy(() => (perm ? tf.transpose(tf.tensor(w.data, w.shape), perm) : tf.tensor(w.data, w.shape)));
    try {
      out.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
    } finally {
      t.dispose();
    }
  }
  return out;
}

