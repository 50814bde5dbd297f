import { parseArgs } from 'node:util';
import type { EncoderOutput } from '../eval/features';
import { MAX_QUEUE_SIZE, mocoConfig, type MocoConfig, type MocoVersion } from '../moco/config';
import { isPresetName, PRESET_NAMES } from '../moco/resnet';

export const USAGE = `usage: npm run train -- [options]

Trains MoCo on the built-in dataset or your own images and prints one progress line every
--log-every steps; with --eval, also the weighted kNN accuracy on held-out images.

Data:
  --data PATH              training images: a CIFAR-10/100 binary file (data_batch_1.bin,
                           train.bin, …), cifar-10-binary.tar.gz / cifar-100-binary.tar.gz
                           (its training batches), or a folder with one sub-folder of PNG/JPEG
                           images per class (resized to 32×32 from a centre square)
                           (default: the built-in shapes)
  --labels coarse|fine     CIFAR-100 labels (default fine)
  --train-size N           images to train on: the first N of --data (default all), or how many
                           built-in images to generate (default 5000)
  --eval PATH              held-out images in any --data form (an archive gives its test batch),
                           or 'builtin' for the built-in shapes' test split (without --data):
                           weighted kNN (k 200, t 0.1) with the training images as the bank,
                           before training, every --eval-every steps and at the end
  --eval-every N           steps between kNN evaluations (default: only before and after)
  --eval-size N            use only the first N held-out images (default all; 1000 built-in)
  --knn-on WHAT            backbone (pooled ResNet features, default), head (the projection MoCo
                           trains, as the official CIFAR demo's monitor reads), or both

Training:
  --backend cpu|webgpu     tfjs backend (default cpu; webgpu runs through Dawn, see README)
  --preset NAME            ${PRESET_NAMES.join(', ')} (default resnet8)
  --moco v1|v2             method preset (default v2: MLP head, T 0.2, blur, cosine lr)
  --steps N                training steps (default 20)
  --epochs E               train for E passes over the data instead (E·batches-per-epoch steps)
  --batch N                images per step (default 32)
  --queue K                negatives in the queue, at most 65,536 (default 4096)
  --momentum M             momentum of the key encoder, 0..1 (default 0.99)
  --temperature T          InfoNCE temperature (default: 0.2 for v2, 0.07 for v1)
  --lr LR                  base learning rate (default 0.06·batch/512)
  --warmup N               linear warm-up steps (default 0)
  --schedule cosine|constant
                           learning-rate schedule (default: cosine for v2, constant for v1)
  --bn-splits S            split batch-norm groups, must divide the batch (default up to 8)
  --no-shuffle             do not shuffle keys before the momentum encoder
  --symmetric              symmetric loss (both view orders)
  --crop-scale MIN         smallest area fraction of the random resized crop (default 0.2, as
                           the official MoCo code; the official CIFAR demo uses torchvision's 0.08)
  --seed N                 seed of data, weights and augmentation (default 1)
  --log-every N            steps between progress lines (default 1)
  --log-json FILE          also write every step's statistics and every kNN evaluation to FILE,
                           one JSON object a line
  --save DIR               write the query encoder (tfjs layers format) to DIR
  --save-key               also write the momentum encoder to DIR/key
  --stock-kernels          use tfjs's stock kernels instead of ours
  --help                   this text`;

export interface TrainArgs {
  backend: 'cpu' | 'webgpu';
  /** Training length in steps, or in epochs (steps then depend on the data's size). */
  length: { steps: number } | { epochs: number };
  /** Undefined: all of --data, or the built-in default. */
  trainSize?: number;
  data?: string;
  labels: 'coarse' | 'fine';
  eval?: string;
  evalEvery?: number;
  evalSize?: number;
  /** Encoder outputs the kNN monitor reads. */
  knnOn: EncoderOutput[];
  logEvery: number;
  logJson?: string;
  save?: string;
  saveKey: boolean;
  stockKernels: boolean;
  config: MocoConfig;
  /** The learning rate without --lr (for this batch size), named when a run diverges. */
  defaultLr: number;
}

export class UsageError extends Error {}

/** `--eval builtin`: the built-in dataset's test split. */
export const BUILT_IN_EVAL = 'builtin';

/** Built-in images generated when neither --data nor --train-size says otherwise. */
export const DEFAULT_BUILT_IN_SIZE = 5000;

/** Steps for a training length, given the batches in one pass over the data. */
export function stepsFor(length: TrainArgs['length'], batchesPerEpoch: number): number {
  return 'steps' in length ? length.steps : Math.max(1, Math.round(length.epochs * batchesPerEpoch));
}

/** Parses the command line; throws UsageError with a message fit for the user on bad input. */
export function parseTrainArgs(argv: string[]): TrainArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        backend: { type: 'string', default: 'cpu' },
        preset: { type: 'string', default: 'resnet8' },
        moco: { type: 'string', default: 'v2' },
        steps: { type: 'string' },
        epochs: { type: 'string' },
        data: { type: 'string' },
        labels: { type: 'string', default: 'fine' },
        eval: { type: 'string' },
        'eval-every': { type: 'string' },
        'eval-size': { type: 'string' },
        'knn-on': { type: 'string' },
        batch: { type: 'string', default: '32' },
        queue: { type: 'string' },
        momentum: { type: 'string' },
        temperature: { type: 'string' },
        lr: { type: 'string' },
        warmup: { type: 'string', default: '0' },
        schedule: { type: 'string' },
        'bn-splits': { type: 'string' },
        'no-shuffle': { type: 'boolean', default: false },
        symmetric: { type: 'boolean', default: false },
        'crop-scale': { type: 'string' },
        'log-json': { type: 'string' },
        'train-size': { type: 'string' },
        seed: { type: 'string', default: '1' },
        'log-every': { type: 'string', default: '1' },
        save: { type: 'string' },
        'save-key': { type: 'boolean', default: false },
        'stock-kernels': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const int = (name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${text}'`);
    if (n > max) throw new UsageError(`--${name} must be at most ${max.toLocaleString('en-US')}, got '${text}'`);
    return n;
  };
  const num = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${text}'`);
    return n;
  };
  if (values.backend !== 'cpu' && values.backend !== 'webgpu') throw new UsageError(`--backend must be cpu or webgpu, got '${values.backend}'`);
  if (!isPresetName(values.preset)) throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got '${values.preset}'`);
  if (values.moco !== 'v1' && values.moco !== 'v2') throw new UsageError(`--moco must be v1 or v2, got '${values.moco}'`);
  if (values.schedule !== undefined && values.schedule !== 'cosine' && values.schedule !== 'constant')
    throw new UsageError(`--schedule must be cosine or constant, got '${values.schedule}'`);
  if (values.labels !== 'coarse' && values.labels !== 'fine') throw new UsageError(`--labels must be coarse or fine, got '${values.labels}'`);
  if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  const batchSize = int('batch', values.batch, 2)!;
  const epochs = num('epochs', values.epochs);
  if (epochs !== undefined && !(epochs > 0)) throw new UsageError(`--epochs must be greater than 0, got '${values.epochs}'`);
  // With --epochs the step count, and so the cosine schedule's end, is known once the data is loaded.
  const steps = epochs === undefined ? int('steps', values.steps ?? '20', 1)! : 0;
  const trainSize = int('train-size', values['train-size'], 1);
  const builtInSize = values.data === undefined ? (trainSize ?? DEFAULT_BUILT_IN_SIZE) : trainSize;
  if (builtInSize !== undefined && builtInSize < batchSize) throw new UsageError(`--train-size (${builtInSize}) must be at least one batch (${batchSize})`);
  const knnOn = values['knn-on'] ?? 'backbone';
  if (knnOn !== 'backbone' && knnOn !== 'head' && knnOn !== 'both') throw new UsageError(`--knn-on must be backbone, head or both, got '${knnOn}'`);
  for (const option of ['eval-every', 'eval-size', 'knn-on'] as const) {
    if (values[option] !== undefined && values.eval === undefined) throw new UsageError(`--${option} needs --eval`);
  }
  if (values.data !== undefined && values.data.trim() === '') throw new UsageError('--data needs a path');
  if (values.eval !== undefined && values.eval.trim() === '') throw new UsageError('--eval needs a path');
  if (values.eval === BUILT_IN_EVAL && values.data !== undefined) throw new UsageError(`--eval ${BUILT_IN_EVAL} goes with the built-in training data, not with --data`);
  const overrides = {
    batchSize,
    queueSize: int('queue', values.queue, 1, MAX_QUEUE_SIZE),
    momentum: num('momentum', values.momentum),
    temperature: num('temperature', values.temperature),
    bnSplits: int('bn-splits', values['bn-splits'], 1),
    shuffleKeys: !values['no-shuffle'],
    symmetric: values.symmetric,
    seed: int('seed', values.seed, 0),
    schedule: {
      baseLr: num('lr', values.lr),
      warmupSteps: int('warmup', values.warmup, 0),
      totalSteps: steps,
      cosine: values.schedule === undefined ? undefined : values.schedule === 'cosine',
    },
  };
  let config: MocoConfig;
  try {
    config = mocoConfig(values.moco as MocoVersion, values.preset, dropUndefined(overrides));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const cropMin = num('crop-scale', values['crop-scale']);
  if (cropMin !== undefined) {
    if (!(cropMin > 0 && cropMin <= 1)) throw new UsageError(`--crop-scale must be in (0, 1], got '${values['crop-scale']}'`);
    config = { ...config, augment: { ...config.augment, cropScale: [cropMin, 1] } };
  }
  if (values['log-json'] !== undefined && values['log-json'].trim() === '') throw new UsageError('--log-json needs a file path');
  return {
    backend: values.backend,
    length: epochs === undefined ? { steps } : { epochs },
    trainSize: builtInSize,
    data: values.data,
    labels: values.labels,
    eval: values.eval,
    evalEvery: int('eval-every', values['eval-every'], 1),
    evalSize: int('eval-size', values['eval-size'], 1),
    knnOn: knnOn === 'both' ? ['backbone', 'head'] : [knnOn],
    logEvery: int('log-every', values['log-every'], 1)!,
    logJson: values['log-json'],
    save: values.save,
    saveKey: values['save-key'],
    stockKernels: values['stock-kernels'],
    config,
    defaultLr: mocoConfig(values.moco as MocoVersion, values.preset, { batchSize }).schedule.baseLr,
  };
}

function dropUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? dropUndefined(v) : v;
  }
  return out as T;
}
