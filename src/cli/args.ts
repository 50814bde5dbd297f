import { parseArgs } from 'node:util';
import { mocoConfig, type MocoConfig, type MocoVersion } from '../moco/config';
import { isPresetName, PRESET_NAMES } from '../moco/resnet';

export const USAGE = `usage: npm run train -- [options]

Trains MoCo on the built-in dataset and prints one progress line every --log-every steps.

  --backend cpu|webgpu     tfjs backend (default cpu; webgpu runs through Dawn, see README)
  --preset NAME            ${PRESET_NAMES.join(', ')} (default resnet8)
  --moco v1|v2             method preset (default v2: MLP head, T 0.2, blur, cosine lr)
  --steps N                training steps (default 20)
  --batch N                images per step (default 32)
  --queue K                negatives in the queue (default 4096)
  --momentum M             momentum of the key encoder, 0..1 (default 0.99)
  --temperature T          InfoNCE temperature (default: 0.2 for v2, 0.07 for v1)
  --lr LR                  base learning rate (default 0.06·batch/512)
  --warmup N               linear warm-up steps (default 0)
  --bn-splits S            split batch-norm groups, must divide the batch (default up to 8)
  --no-shuffle             do not shuffle keys before the momentum encoder
  --symmetric              symmetric loss (both view orders)
  --train-size N           built-in training images to generate (default 5000)
  --seed N                 seed of data, weights and augmentation (default 1)
  --log-every N            steps between progress lines (default 1)
  --save DIR               write the query encoder (tfjs layers format) to DIR
  --save-key               also write the momentum encoder to DIR/key
  --stock-kernels          use tfjs's stock kernels instead of ours
  --help                   this text`;

export interface TrainArgs {
  backend: 'cpu' | 'webgpu';
  steps: number;
  trainSize: number;
  logEvery: number;
  save?: string;
  saveKey: boolean;
  stockKernels: boolean;
  config: MocoConfig;
}

export class UsageError extends Error {}

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
        steps: { type: 'string', default: '20' },
        batch: { type: 'string', default: '32' },
        queue: { type: 'string' },
        momentum: { type: 'string' },
        temperature: { type: 'string' },
        lr: { type: 'string' },
        warmup: { type: 'string', default: '0' },
        'bn-splits': { type: 'string' },
        'no-shuffle': { type: 'boolean', default: false },
        symmetric: { type: 'boolean', default: false },
        'train-size': { type: 'string', default: '5000' },
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
  const int = (name: string, text: string | undefined, min: number) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${text}'`);
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
  const batchSize = int('batch', values.batch, 2)!;
  const steps = int('steps', values.steps, 1)!;
  const trainSize = int('train-size', values['train-size'], 1)!;
  if (trainSize < batchSize) throw new UsageError(`--train-size (${trainSize}) must be at least one batch (${batchSize})`);
  const overrides = {
    batchSize,
    queueSize: int('queue', values.queue, 1),
    momentum: num('momentum', values.momentum),
    temperature: num('temperature', values.temperature),
    bnSplits: int('bn-splits', values['bn-splits'], 1),
    shuffleKeys: !values['no-shuffle'],
    symmetric: values.symmetric,
    seed: int('seed', values.seed, 0),
    schedule: { baseLr: num('lr', values.lr), warmupSteps: int('warmup', values.warmup, 0), totalSteps: steps },
  };
  let config: MocoConfig;
  try {
    config = mocoConfig(values.moco as MocoVersion, values.preset, dropUndefined(overrides));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    backend: values.backend,
    steps,
    trainSize,
    logEvery: int('log-every', values['log-every'], 1)!,
    save: values.save,
    saveKey: values['save-key'],
    stockKernels: values['stock-kernels'],
    config,
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
