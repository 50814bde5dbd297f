import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random';
import { yieldToEventLoop } from './features';
import { scorePredictions, type ClassificationScore } from './scores';

/**
 * The linear probe: softmax regression on frozen features, the standard read-out of how much class
 * information a self-supervised representation holds linearly. Features are standardised with the
 * training set's per-dimension mean and std first: L2-normalised features have entries near 1/√D,
 * and unscaled they would need many more epochs for the same fit.
 */
export interface LinearProbeOptions {
  numClasses: number;
  /** Passes over the training features (default 30). */
  epochs?: number;
  batchSize?: number;
  /** Adam's step size (default 0.01). */
  learningRate?: number;
  /** L2 penalty on the weights (default 1e-4). */
  weightDecay?: number;
  /** Seeds the shuffling (the weights start at zero). */
  seed?: number;
  /** After each epoch: mean training loss of the epoch. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export class LinearProbe {
  private constructor(
    private readonly weights: tf.Variable<tf.Rank.R2>,
    private readonly bias: tf.Variable<tf.Rank.R1>,
    private readonly mean: tf.Tensor1D,
    private readonly scale: tf.Tensor1D,
    readonly numClasses: number,
    /** Mean loss of each epoch. */
    readonly lossHistory: number[],
  ) {}

  /** Trains a probe on `[n, d]` features; the inputs are not disposed, the probe must be. */
  static async train(features: tf.Tensor2D, labels: ArrayLike<number>, options: LinearProbeOptions): Promise<LinearProbe> {
    const { numClasses, epochs = 30, batchSize = 256, learningRate = 0.01, weightDecay = 1e-4, seed = 0, onEpoch } = options;
    const [n, d] = features.shape;
    if (labels.length !== n) throw new Error(`${labels.length} labels for ${n} feature rows`);
    if (n === 0) throw new Error('no training features');
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= numClasses) throw new Error(`label ${labels[i]} of row ${i} is outside 0..${numClasses - 1}`);
    }
    const [mean, scale] = tf.tidy(() => {
      const { mean: m, variance } = tf.moments(features, 0);
      return [m as tf.Tensor1D, variance.sqrt().maximum(1e-6) as tf.Tensor1D];
    });
    // tidy frees the zeros the variables are made from (variables themselves outlive a tidy).
    const weights = tf.tidy(() => tf.variable(tf.zeros([d, numClasses]), true)) as tf.Variable<tf.Rank.R2>;
    const bias = tf.tidy(() => tf.variable(tf.zeros([numClasses]), true)) as tf.Variable<tf.Rank.R1>;
    const probe = new LinearProbe(weights, bias, mean, scale, numClasses, []);
    const standardized = tf.tidy(() => features.sub(mean).div(scale) as tf.Tensor2D);
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), numClasses).toFloat() as tf.Tensor2D);
    const optimizer = tf.train.adam(learningRate);
    const rng = new Rng(seed);
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = rng.permutation(n);
        const losses: tf.Scalar[] = [];
        let value: number;
        // The epoch's losses are freed however it ends (a read-back can fail: a lost GPU device).
        try {
          for (let start = 0; start < n; start += batchSize) {
            const batchIndices = tf.tensor1d(order.subarray(start, Math.min(n, start + batchSize)), 'int32');
            try {
              const loss = optimizer.minimize(
                () =>
                  tf.tidy(() => {
                    const x = tf.gather(standardized, batchIndices);
                    const y = tf.gather(oneHot, batchIndices);
                    const logits = x.matMul(weights).add(bias);
                    return tf.losses.softmaxCrossEntropy(y, logits).add(weights.square().sum().mul(weightDecay)) as tf.Scalar;
                  }),
                true,
                [weights, bias],
              )!;
              losses.push(loss);
            } finally {
              batchIndices.dispose();
            }
          }
          const epochLoss = tf.tidy(() => tf.addN(losses).div(losses.length));
          try {
            value = (await epochLoss.data())[0];
          } finally {
            epochLoss.dispose();
          }
        } finally {
          tf.dispose(losses);
        }
        probe.lossHistory.push(value);
        onEpoch?.(epoch + 1, value);
        await yieldToEventLoop();
      }
    } catch (e) {
      probe.dispose();
      throw e;
    } finally {
      optimizer.dispose();
      standardized.dispose();
      oneHot.dispose();
    }
    return probe;
  }

  /** Class scores (logits) `[n, classes]`; the caller disposes them. */
  logits(features: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => features.sub(this.mean).div(this.scale).matMul(this.weights).add(this.bias) as tf.Tensor2D);
  }

  async predict(features: tf.Tensor2D): Promise<Int32Array> {
    const classes = tf.tidy(() => this.logits(features).argMax(1));
    try {
      return (await classes.data()) as Int32Array;
    } finally {
      classes.dispose();
    }
  }

  /** Top-1 accuracy (overall and per class) on held-out features. */
  async evaluate(features: tf.Tensor2D, labels: ArrayLike<number>): Promise<ClassificationScore> {
    return scorePredictions(await this.predict(features), labels, this.numClasses);
  }

  dispose(): void {
    this.weights.dispose();
    this.bias.dispose();
    this.mean.dispose();
    this.scale.dispose();
  }
}
