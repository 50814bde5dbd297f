import type { EncoderOutput } from '../eval/features';
import { MAX_QUEUE_SIZE, mocoConfig, type MocoConfig, type MocoVersion } from '../moco/config';
import { PRESET_NAMES } from '../moco/resnet';
import { switchNameError } from '../kernels/registry';
import { givenOptions, integer, list, number, oneOf, parseOptions, UsageError } from '../util/options';
import { parseSweep, SWEEP_PARAMS, sweepRunArgv, type Sweep } from './sweep';

export const USAGE = `usage: npm run train -- [options]

Trains MoCo on the built-in dataset or your own images and prints one progress line every
--log-every steps; with --eval, also the weighted kNN accuracy on held-out images.

Data:
  --data PATH              training images: a CIFAR-10/100 binary file (data_batch_1.bin,
                           train.bin, …), cifar-10-binary.tar.gz / cifar-100-binary.tar.gz
                           (its training batches), or a folder with one sub-folder of PNG/JPEG
                           images per class (resized to 32×32 from a centre square), or the
                           app's CIFAR-10 sample, public/cifar10-sample (its test split for --eval)
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
  --probe-epochs N         with every kNN evaluation, also a linear probe (N epochs of softmax
                           regression on frozen backbone features, as the app's; 20 there)

Training:
  --backend NAME           auto (default: WebGPU through Dawn on a GPU, else wasm; the first line
                           says which), wasm (tfjs's WebAssembly backend, SIMD: 7-9x cpu), cpu
                           (tfjs's JavaScript CPU backend), or webgpu (also on a software adapter,
                           see README)
  --preset NAME            ${PRESET_NAMES.join(', ')} (default resnet8)
  --moco v1|v2             method preset (default v2: MLP head, T 0.2, blur, cosine lr)
  --steps N                training steps (default 20; 0 with --init: evaluate, convert)
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
  --sweep PARAM=V1,V2,…    one run per value of momentum, queue, temperature or batch, on the same
                           data, seed and length; a table of the results at the end
  --log-json FILE          also write every step's statistics and every kNN evaluation to FILE,
                           one JSON object a line
  --checkpoint PATH        keep the whole training state in PATH (a zip, written atomically): at
                           the end, every --checkpoint-every steps, and on Ctrl-C or SIGTERM
  --checkpoint-every N     steps between checkpoints (default: only at the end and on a stop)
  --resume PATH            continue the run saved in checkpoint PATH with its recorded setup,
                           step budget and schedule, on the data it recorded (checked against
                           its content hash; give --data if the data moved); --steps or --epochs
                           set a longer budget; checkpoints go on to PATH unless --checkpoint
  --init PATH              start from these weights instead of random ones: the app's downloaded
                           zip, a .safetensors file (ours, or PyTorch's via python/moco_torch.py),
                           a --save directory (also a plain TensorFlow.js model.json + weights),
                           or a checkpoint (--checkpoint, the app's saved run: its query encoder);
                           they must be of the same --preset and --moco
  --record FILE.zip        also write a classroom recording for the app's replay: every step's
                           statistics, every kNN and probe result, where and how the run was
                           made, and the final checkpoint (README: Classroom replay)
  --save DIR|FILE.zip      write the query encoder to DIR (model.json + weights.bin, for
                           TensorFlow.js; model.safetensors, for PyTorch; metadata.json; README.txt)
                           or the same files as one zip, the app's download
  --save-key               also write the momentum encoder (DIR/key/)
  --stock-kernels          use tfjs's stock kernels instead of ours
  --include LIST           opt-in kernels to use too, comma-separated (WebGPU: e.g.
                           TfjsGemmInputGradient, Conv2DBackpropInput, BatchNormRowSplit;
                           \`npm run bench -- --variants custom,custom+NAME\` times one against the default)
  --help                   this text`;

export interface TrainArgs {
  backend: 'auto' | 'cpu' | 'wasm' | 'webgpu';
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
  /** Epochs of the linear probe run with every kNN evaluation (undefined: no probe). */
  probeEpochs?: number;
  /** Where to write the classroom recording (a .zip). */
  record?: string;
  logEvery: number;
  logJson?: string;
  sweep?: Sweep;
  /** Weights to start from (zip, safetensors, or a --save directory). */
  init?: string;
  save?: string;
  saveKey: boolean;
  stockKernels: boolean;
  /** Opt-in kernels switched on too (`useCustomKernels`' include). */
  include: string[];
  config: MocoConfig;
  checkpoint?: string;
  checkpointEvery?: number;
  /** A checkpoint to continue: its setup replaces `config`; `length` counts only if given. */
  resume?: string;
  /** The options the command line gave (without dashes), to tell them from defaults when resuming. */
  given: ReadonlySet<string>;
  /** The learning rate without --lr (for this batch size), named when a run diverges. */
  defaultLr: number;
}

/** Options that make a run's setup: a resumed run keeps the ones its checkpoint recorded. */
export const SETUP_OPTIONS = [
  'preset',
  'moco',
  'batch',
  'queue',
  'momentum',
  'temperature',
  'lr',
  'warmup',
  'schedule',
  'bn-splits',
  'no-shuffle',
  'symmetric',
  'crop-scale',
  'seed',
] as const;

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
  const options = {
    backend: { type: 'string', default: 'auto' },
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
    'probe-epochs': { type: 'string' },
    record: { type: 'string' },
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
    sweep: { type: 'string' },
    'train-size': { type: 'string' },
    seed: { type: 'string', default: '1' },
    'log-every': { type: 'string', default: '1' },
    save: { type: 'string' },
    'save-key': { type: 'boolean', default: false },
    init: { type: 'string' },
    'stock-kernels': { type: 'boolean', default: false },
    include: { type: 'string', default: '' },
    checkpoint: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'string' },
    help: { type: 'boolean', default: false },
  } as const;
  const values = parseOptions(argv, options);
  if (values.help) return 'help';
  const given = givenOptions(argv, options);
  if (values.resume !== undefined) {
    if (values.resume.trim() === '') throw new UsageError('--resume needs a checkpoint file');
    const setupGiven = SETUP_OPTIONS.filter((o) => given.has(o));
    if (setupGiven.length > 0) {
      throw new UsageError(
        `${setupGiven.map((o) => `--${o}`).join(', ')} cannot go with --resume: a resumed run keeps the setup recorded in ${values.resume} (start a new run to change it)`,
      );
    }
  }
  if (values.checkpoint !== undefined && values.checkpoint.trim() === '') throw new UsageError('--checkpoint needs a file path');
  if (values['checkpoint-every'] !== undefined && values.checkpoint === undefined && values.resume === undefined) {
    throw new UsageError('--checkpoint-every needs --checkpoint');
  }
  const backend = oneOf('backend', values.backend, ['auto', 'cpu', 'wasm', 'webgpu']);
  const preset = oneOf('preset', values.preset, PRESET_NAMES);
  const moco = oneOf('moco', values.moco, ['v1', 'v2'] satisfies MocoVersion[]);
  const schedule = values.schedule === undefined ? undefined : oneOf('schedule', values.schedule, ['cosine', 'constant']);
  const labels = oneOf('labels', values.labels, ['coarse', 'fine']);
  if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  const batchSize = integer('batch', values.batch, 2);
  const epochs = number('epochs', values.epochs, { above: 0 });
  // With --epochs the step count, and so the cosine schedule's end, is known once the data is loaded.
  const steps = epochs === undefined ? integer('steps', values.steps ?? '20', values.init === undefined ? 1 : 0) : 0;
  if (values.init !== undefined && values.init.trim() === '') throw new UsageError('--init needs a path');
  if (values.init !== undefined && values.resume !== undefined) throw new UsageError('--init starts a new run from weights; --resume continues a run: give one of them');
  const trainSize = integer('train-size', values['train-size'], 1);
  const builtInSize = values.data === undefined ? (trainSize ?? DEFAULT_BUILT_IN_SIZE) : trainSize;
  if (builtInSize !== undefined && builtInSize < batchSize) throw new UsageError(`--train-size (${builtInSize}) must be at least one batch (${batchSize})`);
  const knnOn = oneOf('knn-on', values['knn-on'] ?? 'backbone', ['backbone', 'head', 'both']);
  for (const option of ['eval-every', 'eval-size', 'knn-on', 'probe-epochs'] as const) {
    if (values[option] !== undefined && values.eval === undefined) throw new UsageError(`--${option} needs --eval`);
  }
  if (values.data !== undefined && values.data.trim() === '') throw new UsageError('--data needs a path');
  if (values.eval !== undefined && values.eval.trim() === '') throw new UsageError('--eval needs a path');
  if (values.eval === BUILT_IN_EVAL && values.data !== undefined) throw new UsageError(`--eval ${BUILT_IN_EVAL} goes with the built-in training data, not with --data`);
  const queueSize = integer('queue', values.queue, 1);
  if (queueSize !== undefined && queueSize > MAX_QUEUE_SIZE) throw new UsageError(`--queue must be at most ${MAX_QUEUE_SIZE.toLocaleString('en-US')}, got '${values.queue}'`);
  const bnSplits = integer('bn-splits', values['bn-splits'], 1);
  if (bnSplits !== undefined && batchSize % bnSplits !== 0) {
    throw new UsageError(`--bn-splits must divide --batch (${batchSize}), got '${values['bn-splits']}': give one of ${divisors(batchSize).join(', ')}, or change --batch`);
  }
  // --steps 0 is for weights given with --init: evaluating or converting them; without either it would do nothing.
  if (steps === 0 && epochs === undefined && [values.eval, values.save, values.checkpoint, values.record].every((v) => v === undefined)) {
    throw new UsageError(
      '--steps 0 trains nothing, and nothing else was asked: add --eval PATH to evaluate the --init weights, --save DIR to convert them, or give --steps N to train from them',
    );
  }
  const overrides = {
    batchSize,
    queueSize,
    momentum: number('momentum', values.momentum, { min: 0, max: 1 }),
    temperature: number('temperature', values.temperature, { above: 0 }),
    bnSplits,
    shuffleKeys: !values['no-shuffle'],
    symmetric: values.symmetric,
    seed: integer('seed', values.seed, 0),
    schedule: {
      baseLr: number('lr', values.lr, { min: 0 }),
      warmupSteps: integer('warmup', values.warmup, 0),
      totalSteps: steps,
      cosine: schedule === undefined ? undefined : schedule === 'cosine',
    },
  };
  let config: MocoConfig;
  try {
    config = mocoConfig(moco, preset, dropUndefined(overrides));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const cropMin = number('crop-scale', values['crop-scale'], { above: 0, max: 1 });
  if (cropMin !== undefined) {
    config = { ...config, augment: { ...config.augment, cropScale: [cropMin, 1] } };
  }
  const include = list(values.include);
  if (include.length && values['stock-kernels']) throw new UsageError('--include switches on more of our kernels: it cannot go with --stock-kernels');
  const includeError = switchNameError('--include', include);
  if (includeError) throw new UsageError(includeError);
  if (values.record !== undefined && values.resume !== undefined) throw new UsageError('--record follows a run from its first step: it cannot go with --resume');
  if (values.record !== undefined && !values.record.endsWith('.zip')) throw new UsageError(`--record writes one zip file: give a name ending in .zip, got '${values.record}'`);
  if (values['log-json'] !== undefined && values['log-json'].trim() === '') throw new UsageError('--log-json needs a file path');
  let sweep: Sweep | undefined;
  if (values.sweep !== undefined) {
    try {
      sweep = parseSweep(values.sweep);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (values.save !== undefined) throw new UsageError('--save writes one model: it cannot go with --sweep');
    if (values.checkpoint !== undefined || values.resume !== undefined || values.record !== undefined) throw new UsageError('--checkpoint, --resume and --record follow one run: they cannot go with --sweep');
    // Each value checked now, as the option it sets, and named as the user typed it: not one run later as '--momentum'.
    for (const value of sweep.values) {
      try {
        parseTrainArgs(sweepRunArgv(argv, sweep, value));
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        const option = SWEEP_PARAMS[sweep.param];
        const reason = e.message.startsWith(`${option} `) ? `${sweep.param} ${e.message.slice(option.length + 1)}` : e.message;
        throw new UsageError(`--sweep ${sweep.param}=${value}: ${reason}`);
      }
    }
  }
  return {
    backend,
    length: epochs === undefined ? { steps } : { epochs },
    trainSize: builtInSize,
    data: values.data,
    labels,
    eval: values.eval,
    evalEvery: integer('eval-every', values['eval-every'], 1),
    evalSize: integer('eval-size', values['eval-size'], 1),
    knnOn: knnOn === 'both' ? ['backbone', 'head'] : [knnOn],
    probeEpochs: integer('probe-epochs', values['probe-epochs'], 1),
    record: values.record,
    logEvery: integer('log-every', values['log-every'], 1),
    logJson: values['log-json'],
    sweep,
    init: values.init,
    save: values.save,
    saveKey: values['save-key'],
    stockKernels: values['stock-kernels'],
    include,
    config,
    checkpoint: values.checkpoint,
    checkpointEvery: integer('checkpoint-every', values['checkpoint-every'], 1),
    resume: values.resume,
    given,
    defaultLr: mocoConfig(moco, preset, { batchSize }).schedule.baseLr,
  };
}

/** Every divisor of `n`, smallest first. */
function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

function dropUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? dropUndefined(v) : v;
  }
  return out as T;
}
