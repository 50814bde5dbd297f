/**
 * The largest GPU buffers and dispatches a MoCo step of a setup needs, checked against the device's
 * limits before anything is allocated: a batch or a queue too large for this GPU is a message
 * naming the numbers, the limit and the choice to change, not a failed dispatch ("Dispatch size
 * exceeds WebGPU limits") or an out-of-memory later.
 */
import { IMAGE_SIZE } from '../data/dataset';
import { PRESETS, type PresetName } from '../moco/resnet';

/** The limits of a GPUDevice's `limits` that bound one buffer and one dispatch. */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
}

export interface StepSetup {
  preset: PresetName;
  batchSize: number;
  queueSize: number;
  /** Our opt-in WebGPU input-gradient GEMM is on (src/kernels/webgpu/conv2dBackpropInput.ts). */
  customInputGradient?: boolean;
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
export function largestBuffers(setup: StepSetup): BufferNeed[] {
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

export interface DispatchNeed {
  what: string;
  /** Workgroups along the dispatch's largest dimension. */
  workgroups: number;
  /** What to change, given the most workgroups allowed in one dimension. */
  fix: (limit: number) => string;
}

/** Rows of the input-gradient GEMM per workgroup: 4 × pow2AtLeast(ceil(M / 4), 16) in src/kernels/webgpu/convGemm.ts' runGemm, 64 for any M over 60. */
const GEMM_ROWS_PER_WORKGROUP = 64;
/** Columns per workgroup of tfjs's matrix products: 16 in MatMulSmallOutputSizeProgram (the fewest; MatMulPacked and the vector case take 32). */
const MATMUL_COLUMNS_PER_WORKGROUP = 16;

/**
 * The step's dispatches with the most workgroups in one dimension, counted as the programs do.
 * tfjs reshapes a flat (1-D) dispatch over two or three dimensions when it is too long, so only
 * the programs that lay a tensor's dimension on y or z can exceed the limit: tfjs's convolutions
 * (conv2d_mm, conv_backprop_mm: z is the batch), its matrix products (x: the logits' K columns),
 * and our input-gradient GEMM when it is on (y: batch × 32 × 32 pixels, 64 rows per workgroup).
 * Our other kernels run grid-stride loops of at most 4,096 workgroups, or one per image.
 */
export function largestDispatches(setup: StepSetup): DispatchNeed[] {
  const { batchSize: n, queueSize: K } = setup;
  const needs: DispatchNeed[] = [
    {
      what: `the convolutions (tfjs's conv2d: one workgroup layer per image of the batch of ${fmt(n)})`,
      workgroups: n,
      fix: (limit) => `choose a batch of at most ${fmt(powerOfTwoAtMost(limit))}`,
    },
    {
      what: `the logits' matrix product (batch ${fmt(n)} × K = ${fmt(K)} negatives, ${MATMUL_COLUMNS_PER_WORKGROUP} columns per workgroup)`,
      workgroups: Math.ceil(K / MATMUL_COLUMNS_PER_WORKGROUP),
      fix: (limit) => `lower the Queue size K to at most ${fmt(limit * MATMUL_COLUMNS_PER_WORKGROUP)}`,
    },
  ];
  if (setup.customInputGradient) {
    const pixels = IMAGE_SIZE * IMAGE_SIZE;
    needs.push({
      what: `the input gradient's GEMM (batch ${fmt(n)} × ${IMAGE_SIZE}×${IMAGE_SIZE} pixels, ${GEMM_ROWS_PER_WORKGROUP} per workgroup)`,
      workgroups: Math.ceil((n * pixels) / GEMM_ROWS_PER_WORKGROUP),
      fix: (limit) => `choose a batch of at most ${fmt(powerOfTwoAtMost((limit * GEMM_ROWS_PER_WORKGROUP) / pixels))}, or leave the Conv2DBackpropInput kernel off`,
    });
  }
  return needs;
}

/** Null when every buffer and dispatch fits this device; else the first that does not, with the limit and the fix. */
export function checkGpuLimits(setup: StepSetup, limits: GpuLimits): string | null {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const name = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  const over = largestBuffers(setup).find((b) => b.bytes > limit);
  if (over) return `${over.what} need a buffer of ${megabytes(over.bytes)}, above this GPU's ${name} of ${megabytes(limit)}: ${over.fix(limit)}`;
  const perDimension = limits.maxComputeWorkgroupsPerDimension;
  const wide = largestDispatches(setup).find((d) => d.workgroups > perDimension);
  if (wide) return `${wide.what} need ${fmt(wide.workgroups)} workgroups in one dimension of a dispatch, above this GPU's maxComputeWorkgroupsPerDimension of ${fmt(perDimension)}: ${wide.fix(perDimension)}`;
  return null;
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
