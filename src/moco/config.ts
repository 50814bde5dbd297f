import { MOCO_V1_AUGMENT, MOCO_V2_AUGMENT, type AugmentConfig } from './augment';
import { PRESETS, type Architecture, type PresetName } from './resnet';
import type { LrSchedule } from './schedule';

export type MocoVersion = 'v1' | 'v2';

export interface MocoConfig {
  arch: Architecture;
  /** Images per step. */
  batchSize: number;
  /** K: negatives kept in the queue. */
  queueSize: number;
  /** m of the momentum encoder. */
  momentum: number;
  /** T of InfoNCE. */
  temperature: number;
  /** Both view orders: loss(q1, k2) + loss(q2, k1), both key sets enqueued. */
  symmetric: boolean;
  /** Split batch-norm groups (shuffle BN on one device); must divide the batch. */
  bnSplits: number;
  /** Shuffle the key batch before the momentum encoder (meaningful with bnSplits > 1). */
  shuffleKeys: boolean;
  augment: AugmentConfig;
  schedule: LrSchedule;
  sgdMomentum: number;
  weightDecay: number;
  seed: number;
}

/**
 * The largest queue, K, anywhere (command line, app, worker API): 65,536 keys of 128 floats is 32 MB
 * on the device, and the step's similarity matrix (batch × K) stays within WebGPU's dispatch limits.
 */
export const MAX_QUEUE_SIZE = 65_536;

/** Hyper-parameters that may change between any two steps, without restarting. */
export type LiveParams = Pick<MocoConfig, 'momentum' | 'queueSize' | 'temperature'> & { learningRate: number };

/**
 * MoCo v1 (linear head, T 0.07, no blur, constant rate) and v2 (MLP head, T 0.2, blur, cosine
 * rate), with the CIFAR settings of the official demo where those differ from ImageNet's: K 4096,
 * m 0.99, split-BN 8, lr 0.06 at batch 512 scaled linearly, weight decay 5e-4.
 */
export function mocoConfig(
  version: MocoVersion,
  preset: PresetName,
  overrides: Partial<Omit<MocoConfig, 'arch' | 'schedule'>> & { schedule?: Partial<LrSchedule> } = {},
): MocoConfig {
  const batchSize = overrides.batchSize ?? 256;
  const { schedule, ...rest } = overrides;
  const config: MocoConfig = {
    arch: { ...PRESETS[preset], head: version === 'v2' ? 'mlp' : 'linear', embeddingDim: 128 },
    batchSize,
    queueSize: 4096,
    momentum: 0.99,
    temperature: version === 'v2' ? 0.2 : 0.07,
    symmetric: false,
    bnSplits: largestDivisorAtMost(batchSize, 8),
    shuffleKeys: true,
    augment: version === 'v2' ? MOCO_V2_AUGMENT : MOCO_V1_AUGMENT,
    sgdMomentum: 0.9,
    weightDecay: 5e-4,
    seed: 1,
    ...rest,
    schedule: {
      baseLr: (0.06 * batchSize) / 512,
      warmupSteps: 0,
      totalSteps: 0,
      cosine: version === 'v2',
      ...schedule,
    },
  };
  validateConfig(config);
  return config;
}

export function validateConfig(c: MocoConfig): void {
  const fail = (msg: string) => {
    throw new Error(`invalid MoCo configuration: ${msg}`);
  };
  if (!Number.isInteger(c.batchSize) || c.batchSize < 2) fail(`batch size must be an integer ≥ 2, got ${c.batchSize}`);
  if (!Number.isInteger(c.bnSplits) || c.bnSplits < 1 || c.batchSize % c.bnSplits !== 0)
    fail(`batch-norm splits (${c.bnSplits}) must divide the batch size (${c.batchSize})`);
  validateLiveParams({ momentum: c.momentum, queueSize: c.queueSize, temperature: c.temperature, learningRate: c.schedule.baseLr });
}

export function validateLiveParams(p: Partial<LiveParams>): void {
  const fail = (msg: string) => {
    throw new Error(`invalid MoCo configuration: ${msg}`);
  };
  if (p.momentum !== undefined && !(p.momentum >= 0 && p.momentum <= 1)) fail(`momentum must be in [0, 1], got ${p.momentum}`);
  if (p.queueSize !== undefined && !(Number.isInteger(p.queueSize) && p.queueSize >= 1))
    fail(`queue size must be a positive integer, got ${p.queueSize}`);
  if (p.queueSize !== undefined && p.queueSize > MAX_QUEUE_SIZE)
    fail(`queue size must be at most ${MAX_QUEUE_SIZE.toLocaleString('en-US')}, got ${p.queueSize.toLocaleString('en-US')}`);
  if (p.temperature !== undefined && !(p.temperature > 0)) fail(`temperature must be > 0, got ${p.temperature}`);
  if (p.learningRate !== undefined && !(p.learningRate >= 0)) fail(`learning rate must be ≥ 0, got ${p.learningRate}`);
}

function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}
