import * as tf from '@tensorflow/tfjs';
import { BN_EPSILON, frozenBatchNorm, splitBatchNorm, splitBatchNormRelu, updateMovingStatistics, type MovingStatistics } from './batchNorm';
import { dense } from './dense';
import { overridable } from './overridable';
import { globalAvgPool } from './pooling';
import { IMAGE_CHANNELS, IMAGE_SIZE } from '../util/imageShape';
import { Rng } from '../util/random';
import { resnet, type Architecture, type LayerOps, type ResNetOutputs } from './resnet';

let encoderCount = 0;

export interface EncoderOptions {
  /** Seeds the initial weights. */
  seed: number;
  /** Groups of split batch-norm in training mode (1 = ordinary batch-norm). */
  bnSplits: number;
  /** Prefix of the tfjs variable names (they must be unique within the engine). */
  scope?: string;
}

/**
 * A ResNet whose weights live in tfjs variables keyed by layer name, so that the query and the
 * momentum encoder can be paired parameter by parameter whatever order tfjs keeps them in.
 */
export class Encoder {
  /** Learnable parameters: conv kernels, batch-norm γ/β, dense kernels and biases. */
  readonly parameters = new Map<string, tf.Variable>();
  /** Batch-norm moving statistics: updated by forward passes in training mode, never by gradients. */
  readonly bnStatistics = new Map<string, tf.Variable>();
  bnSplits: number;

  private readonly prefix: string;
  private readonly init: Rng;
  private training = false;
  /** Training-mode batch-norm over the whole batch, moving statistics untouched (`probeEmbed`). */
  private probing = false;
  /** The batch statistics of the training pass under way, for the moving statistics after it. */
  private batchStatistics: MovingStatistics[] = [];

  constructor(
    readonly arch: Architecture,
    options: EncoderOptions,
  ) {
    this.prefix = `${options.scope ?? 'encoder'}${encoderCount++}`;
    this.init = new Rng(options.seed);
    this.bnSplits = options.bnSplits;
    // Variables are created on first use: one inference pass on a blank image makes them all.
    tf.tidy(() => {
      this.forward(tf.zeros([1, IMAGE_SIZE, IMAGE_SIZE, IMAGE_CHANNELS]), false);
    });
  }

  /**
   * Backbone features and head output (the caller's to dispose). In training mode batch-norm uses
   * (split) batch statistics and updates its moving statistics.
   */
  forward(images: tf.Tensor4D, training: boolean): ResNetOutputs<tf.Tensor> {
    this.training = training;
    if (!training) return resnet(this.ops, images, this.arch);
    // Moving statistics are state, not parameters: never differentiated, updated by the batch-norm
    // kernels where they can, else all layers' at once after the pass (nothing in a training pass
    // reads them). A pass that throws still frees its batch statistics; where the update is not in
    // the kernels, one whose network throws updates no moving statistics.
    this.batchStatistics = [];
    try {
      const out = resnet(this.ops, images, this.arch);
      updateMovingStatistics(this.batchStatistics);
      return out;
    } finally {
      for (const { batchMean, batchVariance } of this.batchStatistics) tf.dispose([batchMean, batchVariance]);
      this.batchStatistics = [];
    }
  }

  /** The L2-normalised embedding MoCo compares (the caller's to dispose); with `rows`, row i is the embedding of image rows[i] (shuffle BN's unshuffle). */
  embed(images: tf.Tensor4D, training: boolean, rows?: Int32Array): tf.Tensor2D {
    return tf.tidy(() => l2Normalize(this.forward(images, training).projection as tf.Tensor2D, undefined, rows));
  }

  /**
   * The embedding as a key is computed in training (batch statistics), over the whole batch in one
   * group and without touching the moving statistics: for measurements that must not change the run.
   */
  probeEmbed(images: tf.Tensor4D): tf.Tensor2D {
    this.probing = true;
    try {
      return this.embed(images, true);
    } finally {
      this.probing = false;
    }
  }

  /** Pooled backbone features in inference mode, L2-normalised (for kNN and probes; the caller's to dispose). Images as `MoCo.step` takes them, but normalised: `augmentation.normalizer.normalize(images)`. */
  features(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => l2Normalize(this.forward(images, false).features as tf.Tensor2D));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.parameters.values()];
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.parameters.values()) n += v.size;
    return n;
  }

  /** Copies parameters and moving statistics from an encoder of the same architecture. */
  copyFrom(other: Encoder): void {
    for (const [own, theirs] of [
      [this.parameters, other.parameters],
      [this.bnStatistics, other.bnStatistics],
    ]) {
      for (const [name, v] of own) v.assign(theirs.get(name)!);
    }
  }

  dispose(): void {
    for (const v of this.parameters.values()) v.dispose();
    for (const v of this.bnStatistics.values()) v.dispose();
    this.parameters.clear();
    this.bnStatistics.clear();
  }

  private variable(store: Map<string, tf.Variable>, name: string, trainable: boolean, init: () => tf.Tensor): tf.Variable {
    let v = store.get(name);
    if (!v) {
      v = tf.tidy(() => tf.variable(init(), trainable, `${this.prefix}/${name}`));
      store.set(name, v);
    }
    return v;
  }

  /**
   * A batch-norm layer (its parameters and moving statistics made on first use); with `relu`,
   * ReLU(batchNorm(x) + residual) as one operation (`splitBatchNormRelu` in training mode).
   */
  private batchNorm(x: tf.Tensor4D, name: string, relu?: { residual?: tf.Tensor4D }): tf.Tensor4D {
    const c = x.shape[3];
    const gamma = this.variable(this.parameters, `${name}/gamma`, true, () => tf.ones([c])) as tf.Tensor1D;
    const beta = this.variable(this.parameters, `${name}/beta`, true, () => tf.zeros([c])) as tf.Tensor1D;
    const movingMean = this.variable(this.bnStatistics, `${name}/moving_mean`, false, () => tf.zeros([c]));
    const movingVariance = this.variable(this.bnStatistics, `${name}/moving_variance`, false, () => tf.ones([c]));
    if (!this.training) {
      const y = frozenBatchNorm(x, gamma, beta, movingMean as tf.Tensor1D, movingVariance as tf.Tensor1D);
      if (!relu) return y;
      return tf.relu(relu.residual ? tf.add(y, relu.residual) : y) as tf.Tensor4D;
    }
    const groups = this.probing ? 1 : this.bnSplits;
    // A kernel may update the moving statistics as it normalises; if not, they follow after the pass.
    const moving = this.probing ? undefined : { movingMean, movingVariance };
    const { y, batchMean, batchVariance } = relu
      ? splitBatchNormRelu(x, gamma, beta, groups, relu.residual, BN_EPSILON, moving)
      : splitBatchNorm(x, gamma, beta, groups, BN_EPSILON, moving);
    if (!batchMean || !batchVariance) return y;
    if (this.probing) tf.dispose([batchMean, batchVariance]);
    else this.batchStatistics.push({ movingMean, movingVariance, batchMean, batchVariance });
    return y;
  }

  /** A dense layer (its parameters made on first use), PyTorch's initialisation; with `relu`, ReLU(x·W + b) as one operation. */
  private dense(x: tf.Tensor2D, name: string, units: number, relu: boolean): tf.Tensor2D {
    const fanIn = x.shape[1];
    const bound = 1 / Math.sqrt(fanIn);
    const kernel = this.variable(this.parameters, `${name}/kernel`, true, () =>
      tf.randomUniform([fanIn, units], -bound, bound, 'float32', this.init.seed()),
    );
    const bias = this.variable(this.parameters, `${name}/bias`, true, () =>
      tf.randomUniform([units], -bound, bound, 'float32', this.init.seed()),
    );
    return dense(x, kernel as tf.Tensor2D, bias as tf.Tensor1D, relu);
  }

  private readonly ops: LayerOps<tf.Tensor> = {
    conv: (x, name, filters, kernel, stride) => {
      const inChannels = x.shape[3]!;
      // He initialisation over fan-out, as torchvision's ResNet.
      const std = Math.sqrt(2 / (kernel * kernel * filters));
      const w = this.variable(this.parameters, `${name}/kernel`, true, () =>
        tf.randomNormal([kernel, kernel, inChannels, filters], 0, std, 'float32', this.init.seed()),
      );
      return tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same');
    },
    batchNorm: (x, name) => this.batchNorm(x as tf.Tensor4D, name),
    batchNormRelu: (x, name, residual) => this.batchNorm(x as tf.Tensor4D, name, { residual: residual as tf.Tensor4D | undefined }),
    relu: (x) => tf.relu(x),
    add: (a, b) => tf.add(a, b),
    globalAvgPool: (x) => globalAvgPool(x as tf.Tensor4D),
    dense: (x, name, units) => this.dense(x as tf.Tensor2D, name, units, false),
    denseRelu: (x, name, units) => this.dense(x as tf.Tensor2D, name, units, true),
  };
}

/** Rows divided by their L2 norm, floored at `epsilon`; with `rows`, row i is x's row rows[i] normalised. */
export const l2Normalize = overridable('l2Normalize', (x: tf.Tensor2D, epsilon = 1e-12, rows?: Int32Array): tf.Tensor2D =>
  tf.tidy(() => {
    const y = x.div(tf.norm(x, 'euclidean', 1, true).maximum(epsilon)) as tf.Tensor2D;
    return rows ? tf.gather(y, rows) : y;
  }),
);
