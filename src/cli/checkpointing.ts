/**
 * The headless trainer's checkpoints: writing them atomically, stopping on Ctrl-C or SIGTERM with a
 * save, and reading one back to resume (its setup, and the settings its command line recorded).
 */
import { readFile } from 'node:fs/promises';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type DatasetIdentity, type RunHistory } from '../train/checkpoint';
import type { Trainer } from '../train/trainer';
import type { TrainArgs } from './args';
import type { JsonLog } from './jsonLog';
import { NODE_FILES, writeAtomically, type WriteFiles } from './fileWrites';

/** Writes the run's checkpoint to `path`, if any: to a temporary file renamed over the previous one, so a crash mid-write leaves that intact. */
export class CheckpointWriter {
  constructor(
    readonly path: string | undefined,
    private readonly run: { trainer: Trainer; identity?: DatasetIdentity; history: RunHistory; args: TrainArgs; log: JsonLog },
    private readonly files: WriteFiles = NODE_FILES,
  ) {}

  /** The run's checkpoint bytes now (what `save` writes; `--record` keeps the final one). */
  encode(): Promise<Uint8Array> {
    const { trainer, identity, history, args } = this.run;
    return encodeCheckpoint(trainer, { dataset: identity!, history, client: headlessSettings(args) });
  }

  /** False (and the error printed) when the file could not be written; true without a path. */
  async save(): Promise<boolean> {
    if (!this.path) return true;
    const { trainer, log } = this.run;
    const start = performance.now();
    const bytes = await this.encode();
    const encoded = performance.now();
    if (!(await writeAtomically(this.path, bytes, 'the checkpoint', '--checkpoint', this.files))) return false;
    log.write({ kind: 'checkpoint', step: trainer.moco.stepCount, bytes: bytes.byteLength, encodeMs: encoded - start, writeMs: performance.now() - encoded });
    return true;
  }
}

/**
 * Ctrl-C or SIGTERM: finish the step in flight, save, and say how to go on. Ctrl-C reaches npm and
 * the trainer alike, and npm passes it on, so a repeat within seconds is the same request; a later
 * one stops at once (the last checkpoint written stays as it was). Listens only with a checkpoint path,
 * or without one when the run writes the model or a recording at its end: then a stop ends the run
 * early and writes them, so the steps trained are not lost.
 */
export class StopSignals {
  /** The signal that asked to stop, if one did. */
  signal: NodeJS.Signals | null = null;
  private askedAt = 0;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.signal && performance.now() - this.askedAt > 3000) process.exit(signal === 'SIGINT' ? 130 : 143);
    if (this.signal) return;
    this.signal = signal;
    this.askedAt = performance.now();
    console.log(`${signal}: stopping after this step and ${this.checkpointPath ? `saving ${this.checkpointPath}` : `writing ${this.outputs}`} (again to stop at once)`);
  };

  /** `outputs`: without a checkpoint, what a stop still writes (--save, --record), so that Ctrl-C does not lose the steps trained. */
  constructor(
    private readonly checkpointPath: string | undefined,
    private readonly outputs?: string,
  ) {
    if (!checkpointPath && !outputs) return;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** The headless trainer's settings a resumed run reuses unless its command line gives them again. */
interface HeadlessSettings {
  data?: string;
  labels: TrainArgs['labels'];
  trainSize?: number;
  eval?: string;
  evalEvery?: number;
  evalSize?: number;
  knnOn: TrainArgs['knnOn'];
  checkpointEvery?: number;
}

/** Command-line option of each recorded setting. */
const SETTING_OPTIONS: Record<keyof HeadlessSettings, string> = {
  data: 'data',
  labels: 'labels',
  trainSize: 'train-size',
  eval: 'eval',
  evalEvery: 'eval-every',
  evalSize: 'eval-size',
  knnOn: 'knn-on',
  checkpointEvery: 'checkpoint-every',
};

function headlessSettings(args: TrainArgs): Record<string, unknown> {
  const settings: HeadlessSettings = {
    data: args.data,
    labels: args.labels,
    trainSize: args.trainSize,
    eval: args.eval,
    evalEvery: args.evalEvery,
    evalSize: args.evalSize,
    knnOn: args.knnOn,
    checkpointEvery: args.checkpointEvery,
  };
  return { headless: settings };
}

/** The command line of a resumed run: the checkpoint's setup, and its recorded settings where none are given. */
export function resumedArgs(args: TrainArgs, checkpoint: Checkpoint): TrainArgs {
  const recorded = (checkpoint.manifest.client.headless ?? {}) as Partial<HeadlessSettings>;
  const merged: TrainArgs = { ...args, config: checkpoint.manifest.setup.config };
  for (const key of Object.keys(SETTING_OPTIONS) as (keyof HeadlessSettings)[]) {
    if (!args.given.has(SETTING_OPTIONS[key])) Object.assign(merged, { [key]: recorded[key] });
  }
  if (!args.given.has('labels')) merged.labels = recorded.labels ?? 'fine';
  if (!args.given.has('knn-on')) merged.knnOn = recorded.knnOn ?? ['backbone'];
  if (merged.data === undefined && merged.trainSize === undefined) merged.trainSize = checkpoint.manifest.setup.dataset.size;
  return merged;
}

export async function readCheckpointFile(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'no such file' : `cannot be read (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}

/**
 * The command that continues a stopped run: the checkpoint records the setup, data and evaluation,
 * but not where the run writes its results or which kernels and backend it ran on, so those options
 * are repeated, else the resumed run would end without writing the model or the rest of the log
 * that the user asked for.
 */
export function resumeCommand(checkpointPath: string, args: TrainArgs): string {
  const options = [`--resume ${shellQuote(checkpointPath)}`];
  if (args.backend !== 'auto') options.push(`--backend ${args.backend}`);
  if (args.save !== undefined) options.push(`--save ${shellQuote(args.save)}`);
  if (args.saveKey) options.push('--save-key');
  if (args.logJson !== undefined) options.push(`--log-json ${shellQuote(args.logJson)}`);
  if (args.probeEpochs !== undefined) options.push(`--probe-epochs ${args.probeEpochs}`);
  if (args.stockKernels) options.push('--stock-kernels');
  if (args.include.length > 0) options.push(`--include ${args.include.join(',')}`);
  return `npm run train -- ${options.join(' ')}`;
}

/** A path as the user can paste it into a shell. */
export function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}
