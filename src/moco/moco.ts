import * as tf from '@tensorflow/tfjs';
import { applyAugment, Augmentation, sampleAugmentParams, type AugmentParams } from './augment';
import { validateLiveParams, type LiveParams, type MocoConfig } from './config';
import { Encoder } from './encoder';
import { contrastiveStats, infoNce } from './loss';
import { keyLag, momentumUpdate, momentumUpdateWithLag } from './momentum';
import { KeyQueue } from './queue';
import { IMAGE_CHANNELS, IMAGE_SIZE } from '../util/imageShape';
import { Rng, type RngState } from '../util/random';
import { learningRateAt } from './schedule';
import { SgdMomentum } from './sgd';
import { encodeShuffled } from './shuffle';
import { gradientsFreeingTape } from './gradients';

/** A view of the batch for the query encoder and the keys it is contrasted with. */
type QueryKeyPair = [tf.Tensor4D, tf.Tensor2D];

export interface StepStats {
  /** 1-based number of this step. */
  step: number;
  /** InfoNCE loss (with the symmetric loss, the mean of its two terms, so that runs compare). */
  loss: number;
  /** (K+1)-way contrastive top-1 accuracy. */
  contrastiveAccuracy: number;
  meanPositiveSimilarity: number;
  meanNegativeSimilarity: number;
  queueFilled: number;
  queueCapacity: number;
  /** Mean age, in steps, of the negatives used by this step. */
  meanKeyAge: number;
  learningRate: number;
  momentum: number;
  temperature: number;
  /**
   * How far the key encoder trails the query encoder after this step's momentum update,
   * ‖θk − θq‖ / ‖θq‖ over the learnable parameters (0 with m = 0); NaN when not measured.
   */
  keyLag: number;
  /**
   * Key consistency: the mean cosine between the key and the query encoder's embeddings of the same
   * un-augmented probe images (1 when they are the same encoder). Measured every
   * `CONSISTENCY_EVERY` steps; the last measurement in between; NaN when not measured.
   */
  keyConsistency: number;
}

/** Images of the first batch a MoCo sees that the key-consistency probe embeds, un-augmented. */
export const CONSISTENCY_PROBE_SIZE = 16;
/** Steps between two key-consistency probes (two small forward passes). */
export const CONSISTENCY_EVERY = 5;

/**
 * Momentum Contrast (He et al. 2019), one step at a time, in the order of the official code
 * (facebookresearch/moco: builder.py's forward, then its training loop): two augmented views; keys
 * from the momentum encoder without gradient, the batch shuffled for its split batch-norm and
 * unshuffled after; queries, logits against the positive key and the queue, InfoNCE; enqueue the
 * keys (the loss has read the queue); SGD on the query encoder; θk ← m·θk + (1 − m)·θq. builder.py
 * makes that last update at the start of the next forward instead: the same updates in the same
 * sequence, cut one place later (its first, of θk = θq, changes nothing), so that a step can report
 * how far the key encoder trails after its update. The paper's Algorithm 1 enqueues after the two
 * updates; neither reads the queue, so the order changes no number, and enqueuing first means a
 * failing write leaves the parameters untouched.
 */
export class MoCo {
  readonly encoderQ: Encoder;
  readonly encoderK: Encoder;
  readonly queue: KeyQueue;
  private readonly optimizer: SgdMomentum;
  private readonly rng: Rng;
  private readonly live: LiveParams;
  private steps = 0;
  /** The random draws of the last step's two views (plain numbers, no tensors); null before a step. */
  lastViewDraws: [AugmentParams, AugmentParams] | null = null;
  /**
   * Whether steps measure the key encoder's lag and consistency (a few reductions over the
   * parameters, read back with the loss). The benchmark turns it off: it times training alone.
   */
  measureKeyEncoder = true;
  /** The consistency probe's images, normalised: the first images this MoCo trained on. */
  private probe: tf.Tensor4D | null = null;
  private lastConsistency = Number.NaN;
  /** The augmentation of `config.augment`, with the constant tensors its views share (freed by `dispose()`). */
  readonly augmentation: Augmentation;
  /** d loss / d loss = 1, where backpropagation starts: held, so that no step uploads a new one (tf.variableGrads would). */
  private readonly lossSeed = tf.keep(tf.scalar(1));

  constructor(readonly config: MocoConfig) {
    this.rng = new Rng(config.seed);
    this.augmentation = new Augmentation(config.augment);
    this.encoderQ = new Encoder(config.arch, { seed: this.rng.seed(), bnSplits: config.bnSplits, scope: 'query' });
    this.encoderK = new Encoder(config.arch, { seed: this.rng.seed(), bnSplits: config.bnSplits, scope: 'key' });
    this.encoderK.copyFrom(this.encoderQ);
    this.queue = new KeyQueue(config.queueSize, config.arch.embeddingDim);
    this.optimizer = new SgdMomentum(config.sgdMomentum, config.weightDecay);
    this.live = {
      momentum: config.momentum,
      queueSize: config.queueSize,
      temperature: config.temperature,
      learningRate: config.schedule.baseLr,
    };
  }

  get stepCount(): number {
    return this.steps;
  }

  get params(): Readonly<LiveParams> {
    return this.live;
  }

  /**
   * Changes hyper-parameters from the next step on; the queue is resized at once, first: a resize
   * that fails (out of memory) changes nothing.
   */
  setParams(p: Partial<LiveParams>): void {
    validateLiveParams(p);
    if (p.queueSize !== undefined) this.queue.resize(p.queueSize);
    Object.assign(this.live, p);
  }

  /**
   * One training step on a batch of images in [0, 1], `[N, 32, 32, 3]`, N a multiple of
   * `config.bnSplits` (any batch size, not only `config.batchSize`, whose part is the learning rate's
   * scaling). `images` stay the caller's (the step reads them and frees only its own tensors); the
   * statistics are plain numbers, read back from the backend once. A step that throws (out of
   * memory, a lost device) puts back the CPU's state only: the step count, the views, the generator,
   * the probe and the queue's pointer, fill and key ages, so that the same batch and step number
   * come again (the trainer's sampler does its part). Nothing on the GPU is copied for this, since
   * that would cost dispatches every step for a rare event: the moving statistics the forward passes
   * updated, queue rows already written and an update that ran stay as the failure left them. A
   * failure before the first encoder pass leaves the run exactly as it was; one before the queue
   * write leaves only other moving statistics (training normalises by the batch, so the losses and
   * weights go on as a clean run's). The app's restore point or the last checkpoint is the exact state.
   */
  async step(images: tf.Tensor4D): Promise<StepStats> {
    checkBatch(images, this.config.bnSplits);
    const step = this.steps + 1;
    const lr = learningRateAt(step - 1, { ...this.config.schedule, baseLr: this.live.learningRate });
    const { momentum: m, temperature: T } = this.live;
    const meanKeyAge = this.queue.meanKeyAge(step);
    const { symmetric } = this.config;
    const n = images.shape[0];
    const undo = this.keepForUndo();

    // Two random views of every image: one for the query, one for its positive key. The draws are
    // kept so that the app can show exactly the views this step trained on.
    const viewDraws: [AugmentParams, AugmentParams] = [sampleAugmentParams(n, this.config.augment, this.rng), sampleAugmentParams(n, this.config.augment, this.rng)];
    const [draws1, draws2] = viewDraws;
    const measure = this.measureKeyEncoder;
    // The step's tensors, freed however it ends (a step that throws leaves none behind).
    const made: tf.Tensor[] = [];
    const track = <T extends tf.Tensor | null>(t: T): T => {
      if (t) made.push(t);
      return t;
    };
    let figures: Float32Array | Int32Array | Uint8Array;
    try {
      // 1. The query views; `keys` makes the key views itself, in shuffle BN's order (with the symmetric
      // loss each view is both, and is made once per role).
      const x1 = track(applyAugment(images, draws1, this.augmentation));
      const x2 = track(symmetric ? applyAugment(images, draws2, this.augmentation) : null);
      // 2. Keys from the momentum encoder (shuffle BN), outside any gradient: constants for the loss.
      const k2 = track(this.keys(images, draws2));
      const k1 = track(symmetric ? this.keys(images, draws1) : null);
      const pairs: QueryKeyPair[] = x2 && k1 ? [[x1, k2], [x2, k1]] : [[x1, k2]];

      // 3. Queries, logits against the positive key and the queue, InfoNCE and its gradients.
      const { grads, stats } = this.lossGradients(pairs, T);
      track(stats);
      try {
        // 4. This step's keys become the newest negatives (the loss has read the queue; nothing after does).
        this.queue.enqueue(k2, step);
        if (k1) this.queue.enqueue(k1, step);
        // 5. SGD on the query encoder.
        this.optimizer.applyGradients(grads, lr);
      } finally {
        tf.dispose([...grads.values()]);
      }
      // 6. The key encoder follows the query encoder slowly (measured in the same pass: how far it trails).
      const lag = track(measure ? momentumUpdateWithLag(this.encoderK.parameters, this.encoderQ.parameters, m) : null);
      if (!lag) momentumUpdate(this.encoderK.parameters, this.encoderQ.parameters, m);
      const consistency = track(measure ? this.keyConsistency(images, step) : null);

      // One read-back for everything: the loss's statistics, then the lag's sums and the consistency.
      const readBack = lag ? track(tf.concat(consistency ? [stats, lag, consistency] : [stats, lag])) : stats;
      figures = await readBack.data();
    } catch (e) {
      undo();
      throw e;
    } finally {
      tf.dispose(made);
    }
    this.steps = step;
    this.lastViewDraws = viewDraws;
    const [loss, top1, meanPositive, meanNegative, lagDistance, lagSize, consistency] = figures;
    if (consistency !== undefined) this.lastConsistency = consistency;
    return {
      step,
      loss,
      contrastiveAccuracy: top1,
      meanPositiveSimilarity: meanPositive,
      meanNegativeSimilarity: meanNegative,
      queueFilled: this.queue.filled,
      queueCapacity: this.queue.capacity,
      meanKeyAge,
      learningRate: lr,
      momentum: m,
      temperature: T,
      keyLag: measure ? keyLag([lagDistance, lagSize]) : Number.NaN,
      keyConsistency: measure ? this.lastConsistency : Number.NaN,
    };
  }

  /**
   * Puts back (when called) the CPU state a step changes before it can still fail: the generator,
   * the probe and the queue's marks. CPU only: it cannot fail, and it costs no GPU work.
   */
  private keepForUndo(): () => void {
    const rng = this.rng.state();
    const hadProbe = this.probe !== null;
    const queue = this.queue.keepForUndo();
    return () => {
      this.rng.restore(rng);
      if (!hadProbe) {
        this.probe?.dispose();
        this.probe = null;
      }
      queue();
    };
  }

  /**
   * On a probe step, `[1]`: the mean cosine between the two encoders' embeddings of the probe images
   * (taken from the first batch this MoCo sees, so the first step of a run, or of a resumed one,
   * probes); null between probes.
   */
  private keyConsistency(images: tf.Tensor4D, step: number): tf.Tensor1D | null {
    const first = this.probe === null;
    if (first) {
      const n = Math.min(CONSISTENCY_PROBE_SIZE, images.shape[0]);
      this.probe = tf.keep(tf.tidy(() => this.augmentation.normalizer.normalize(images.slice(0, n))));
    }
    if (!first && step % CONSISTENCY_EVERY !== 0) return null;
    const probe = this.probe!;
    return tf.tidy(() => this.encoderK.probeEmbed(probe).mul(this.encoderQ.probeEmbed(probe)).sum(1).mean().reshape([1]) as tf.Tensor1D);
  }

  /**
   * Gradients of the InfoNCE loss (summed over the view orders, as in the symmetric demo) with
   * respect to the query encoder, and the step's statistics averaged over the view orders:
   * [loss, contrastive top-1, mean positive, mean negative similarity].
   */
  private lossGradients(pairs: QueryKeyPair[], temperature: number): { grads: Map<tf.Variable, tf.Tensor>; stats: tf.Tensor1D } {
    const negatives = this.queue.keys;
    const emptySlotBias = this.queue.emptySlotBias();
    const filled = this.queue.filled;
    const queryParams = this.encoderQ.trainableVariables();
    let stats: tf.Tensor1D | undefined;
    let pass: { value: tf.Scalar; grads: tf.Tensor[] };
    try {
      pass = gradientsFreeingTape(() => {
        const terms = pairs.map(([x, k]) => {
          const out = infoNce(this.encoderQ.embed(x, true), k, negatives, emptySlotBias, temperature);
          const s = contrastiveStats(out, emptySlotBias, filled);
          return [out.loss, s.top1, s.meanPositive, s.meanNegative];
        });
        // One view order (the default): its figures as they are, with no division by 1 to dispatch.
        const mean = (i: number) => (terms.length === 1 ? terms[0][i] : tf.addN(terms.map((t) => t[i])).div(terms.length));
        stats = tf.keep(tf.stack([0, 1, 2, 3].map(mean)) as tf.Tensor1D);
        return tf.addN(terms.map((t) => t[0])) as tf.Scalar;
      }, queryParams, this.lossSeed);
    } catch (e) {
      // The pass's own tensors are freed by it; the statistics were kept out of it.
      stats?.dispose();
      throw e;
    }
    pass.value.dispose();
    return { grads: new Map(queryParams.map((v, i) => [v, pass.grads[i]])), stats: stats! };
  }

  /**
   * Momentum-encoder keys of the view of `images` that `draws` make, the batch shuffled before the
   * encoder and unshuffled after (shuffle BN): the view is made in the shuffled order, and the
   * embeddings come out in the batch's.
   */
  private keys(images: tf.Tensor4D, draws: AugmentParams): tf.Tensor2D {
    const view = (rows?: Int32Array) => applyAugment(images, draws, this.augmentation, rows);
    const encode = (x: tf.Tensor4D, rows?: Int32Array) => this.encoderK.embed(x, true, rows);
    if (!this.config.shuffleKeys) return tf.tidy(() => encode(view()));
    return encodeShuffled(this.rng.permutation(images.shape[0]), view, encode);
  }

  /**
   * The rest of the training state beyond the encoders and the queue: the step count, the
   * generator, the live parameters and the SGD velocity of each query parameter (by name; absent
   * before the first step). Read by checkpoints (train/checkpoint.ts). The velocities are the
   * optimizer's own variables, not copies: read them, never dispose them.
   */
  trainingState(): { step: number; rng: RngState; live: LiveParams; velocities: Map<string, tf.Variable> } {
    const velocities = new Map<string, tf.Variable>();
    for (const [name, theta] of this.encoderQ.parameters) {
      const v = this.optimizer.velocityOf(theta);
      if (v) velocities.set(name, v);
    }
    return { step: this.steps, rng: this.rng.state(), live: { ...this.live }, velocities };
  }

  /** Puts back a `trainingState()` (a resumed run); the next step is `step + 1`. */
  restoreTrainingState(state: { step: number; rng: RngState; live: LiveParams; velocities: ReadonlyMap<string, tf.Tensor> }): void {
    this.setParams(state.live);
    this.rng.restore(state.rng);
    this.steps = state.step;
    for (const [name, value] of state.velocities) {
      const theta = this.encoderQ.parameters.get(name);
      if (!theta) throw new Error(`no query-encoder parameter '${name}' for a saved velocity`);
      this.optimizer.setVelocity(theta, value);
    }
  }

  dispose(): void {
    this.probe?.dispose();
    this.probe = null;
    this.encoderQ.dispose();
    this.encoderK.dispose();
    this.queue.dispose();
    this.optimizer.dispose();
    this.augmentation.dispose();
    this.lossSeed.dispose();
  }
}

/**
 * A batch the step cannot train on, refused before any work with what it takes: the errors tfjs
 * would give deep inside the augmentation or split batch-norm name neither the shape nor the fix.
 */
function checkBatch(images: tf.Tensor, bnSplits: number): void {
  const [n, h, w, c] = images.shape;
  if (images.rank !== 4 || h !== IMAGE_SIZE || w !== IMAGE_SIZE || c !== IMAGE_CHANNELS) {
    throw new Error(`MoCo.step takes a batch of RGB images [N, ${IMAGE_SIZE}, ${IMAGE_SIZE}, 3] with values in [0, 1], got a tensor of shape [${images.shape}]: resize the images to ${IMAGE_SIZE}×${IMAGE_SIZE} (tf.image.resizeBilinear) and stack them into one 4-D tensor`);
  }
  if (n % bnSplits !== 0) {
    throw new Error(`MoCo.step: a batch of ${n} images does not split into the ${bnSplits} batch-norm groups of this MoCo (config.bnSplits): give it a multiple of ${bnSplits} images, or make the MoCo with mocoConfig(…, { batchSize: ${n} }), which picks groups that divide it`);
  }
}
