/**
 * The largest GPU buffers a MoCo step of a setup allocates, checked against the device's limits
 * before anything is allocated: a batch or a queue too large for this GPU is a message naming the
 * numbers and the choice to change, not a failed dispatch or an out-of-memory later.
 */
import { IMAGE_SIZE } from '../data/dataset';
import { PRESETS, type PresetName } from '../moco/resnet';

/** The two limits of a GPUDevice's `limits` that bound one buffer. */
export interface GpuBufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface BufferNeed {
  what: string;
  bytes: number;
  /** What to change, given the most bytes allowed. */
  fix: (limit: number) => string;
}

const FLOAT = 4;
const EMBEDDING_DIM = 128;

/** The step's largest buffers: the first layer's activations (batch × 32 × 32 × width), the logits (batch × (K + 1)), the queue (K × 128). */
export function largestBuffers(setup: { preset: PresetName; batchSize: number; queueSize: number }): BufferNeed[] {
  const { preset, batchSize: n, queueSize: K } = setup;
  const width = PRESETS[preset].widths[0];
  const perImage = IMAGE_SIZE * IMAGE_SIZE * width * FLOAT;
  const perRow = (K + 1) * FLOAT;
  return [
    {
      what: `the first layer's activations (batch ${fmt(n)} × ${IMAGE_SIZE}×${IMAGE_SIZE} × ${width} channels of ${preset})`,
      bytes: n * perImage,
      fix: (limit) => `choose a batch of at most ${fmt(powerOfTwoAtMost(limit / perImage))} or a smaller preset`,
    },
    {
      what: `the logits (batch ${fmt(n)} × ${fmt(K + 1)}: the positive and K = ${fmt(K)} negatives)`,
      bytes: n * perRow,
      fix: (limit) => `choose a batch of at most ${fmt(powerOfTwoAtMost(limit / perRow))}, or lower the Queue size K to at most ${fmt(Math.floor(limit / (n * FLOAT)) - 1)}`,
    },
    {
      what: `the queue (K = ${fmt(K)} keys × ${EMBEDDING_DIM})`,
      bytes: K * EMBEDDING_DIM * FLOAT,
      fix: (limit) => `lower the Queue size K to at most ${fmt(Math.floor(limit / (EMBEDDING_DIM * FLOAT)))}`,
    },
  ];
}

/** Null when every buffer fits this device; else the first that does not, with the limit and the fix. */
export function checkGpuLimits(setup: { preset: PresetName; batchSize: number; queueSize: number }, limits: GpuBufferLimits): string | null {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const name = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  const over = largestBuffers(setup).find((b) => b.bytes > limit);
  if (!over) return null;
  return `${over.what} need a buffer of ${megabytes(over.bytes)}, above this GPU's ${name} of ${megabytes(limit)}: ${over.fix(limit)}`;
}

function powerOfTwoAtMost(x: number): number {
  return x < 1 ? 0 : 2 ** Math.floor(Math.log2(x));
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function megabytes(bytes: number): string {
  return `${fmt(Math.round(bytes / 1e6))} MB (${fmt(bytes)} bytes)`;
}
