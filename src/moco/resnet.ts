/**
 * The ResNet for 32×32 inputs used by MoCo's CIFAR recipes: a 3×3 stride-1 stem without max-pool,
 * basic residual blocks, global average pooling, then the projection head (linear in MoCo v1, a
 * 2-layer MLP in v2).
 *
 * The architecture is written once, against `LayerOps`, so that the same definition drives the
 * training forward pass on tensors (`Encoder`) and the export to a tf.layers graph (`io/layersModel`).
 */

export type HeadKind = 'linear' | 'mlp';

export interface Architecture {
  /** Channels of each stage; the first stage runs at 32×32, each later one halves the resolution. */
  readonly widths: readonly number[];
  /** Basic blocks per stage. */
  readonly blocks: readonly number[];
  readonly head: HeadKind;
  readonly embeddingDim: number;
}

export const PRESETS = {
  /** For tests and software-rendered WebGPU: a few thousand parameters. */
  tiny: { widths: [4, 8], blocks: [1, 1] },
  resnet8: { widths: [16, 32, 64], blocks: [1, 1, 1] },
  /** The ResNet-8 of the shared reference curve (widths 32/64/128). */
  'resnet8-wide': { widths: [32, 64, 128], blocks: [1, 1, 1] },
  resnet14: { widths: [32, 64, 128], blocks: [2, 2, 2] },
  resnet18: { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2] },
} as const satisfies Record<string, Pick<Architecture, 'widths' | 'blocks'>>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The operations a ResNet needs; `name` identifies the layer's parameters. */
export interface LayerOps<T> {
  conv(x: T, name: string, filters: number, kernel: number, stride: number): T;
  batchNorm(x: T, name: string): T;
  relu(x: T): T;
  add(a: T, b: T): T;
  /**
   * ReLU(batchNorm(x) + residual) (ReLU(batchNorm(x)) without one) as one operation, so that a
   * kernel can fuse them; optional: without it the network calls batchNorm, add and relu.
   */
  batchNormRelu?(x: T, name: string, residual?: T): T;
  globalAvgPool(x: T): T;
  dense(x: T, name: string, units: number): T;
  /** ReLU(dense(x)) as one operation, so that the matmul's kernel can apply the ReLU; optional: without it the network calls dense and relu. */
  denseRelu?(x: T, name: string, units: number): T;
}

export interface ResNetOutputs<T> {
  /** Pooled backbone features (what kNN and the linear probe use). */
  features: T;
  /** Head output before L2 normalisation. */
  projection: T;
}

export function resnet<T>(ops: LayerOps<T>, input: T, arch: Architecture): ResNetOutputs<T> {
  let x = batchNormRelu(ops, ops.conv(input, 'stem_conv', arch.widths[0], 3, 1), 'stem_bn');
  let channels = arch.widths[0];
  arch.widths.forEach((width, stage) => {
    for (let b = 0; b < arch.blocks[stage]; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      x = basicBlock(ops, x, `s${stage}b${b}`, channels, width, stride);
      channels = width;
    }
  });
  const features = ops.globalAvgPool(x);
  const projection =
    arch.head === 'mlp'
      ? ops.dense(denseRelu(ops, features, 'head_fc1', channels), 'head_fc2', arch.embeddingDim)
      : ops.dense(features, 'head_fc', arch.embeddingDim);
  return { features, projection };
}

/** ReLU(dense(x)), as one operation where the ops have it. */
function denseRelu<T>(ops: LayerOps<T>, x: T, name: string, units: number): T {
  return ops.denseRelu ? ops.denseRelu(x, name, units) : ops.relu(ops.dense(x, name, units));
}

/** ReLU(batchNorm(x) + residual) (ReLU(batchNorm(x)) without one), as one operation where the ops have it. */
function batchNormRelu<T>(ops: LayerOps<T>, x: T, name: string, residual?: T): T {
  if (ops.batchNormRelu) return ops.batchNormRelu(x, name, residual);
  const y = ops.batchNorm(x, name);
  return ops.relu(residual === undefined ? y : ops.add(y, residual));
}

function basicBlock<T>(ops: LayerOps<T>, x: T, name: string, inChannels: number, width: number, stride: number): T {
  let y = batchNormRelu(ops, ops.conv(x, `${name}_conv1`, width, 3, stride), `${name}_bn1`);
  y = ops.conv(y, `${name}_conv2`, width, 3, 1);
  // ReLU(bn2(y) + x).
  if (stride === 1 && inChannels === width) return batchNormRelu(ops, y, `${name}_bn2`, x);
  // ReLU(bn(down(x)) + bn2(y)): the add and ReLU go with the shortcut's batch-norm, which comes
  // last, so that layers (and their parameters) are made in the same order either way.
  y = ops.batchNorm(y, `${name}_bn2`);
  return batchNormRelu(ops, ops.conv(x, `${name}_down_conv`, width, 1, stride), `${name}_down_bn`, y);
}
