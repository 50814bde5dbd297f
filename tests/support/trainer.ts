/** The headless trainer (`npm run train`) as the CLI tests run it: a child Node process through tsx. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers';

const run = promisify(execFile);

/** Node's arguments that start the trainer from its source. */
export const TRAINER = ['--import', 'tsx', 'src/cli/train.ts'];

export interface TrainerResult {
  /** Exit status (a failed run's too: never thrown). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run train -- ...args` to its end; `env` is added to this process's environment. */
export async function runTrainer(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<TrainerResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...TRAINER, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 300_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** One progress row as the trainer prints it (`step epoch loss ctr-acc pos-sim neg-sim queue lr img/s`): the step, and every other column as printed. */
export interface ProgressRow {
  step: number;
  epoch: string;
  loss: string;
  /** Contrastive accuracy, with its %. */
  accuracy: string;
  positiveSimilarity: string;
  negativeSimilarity: string;
  /** filled/capacity. */
  queue: string;
  lr: string;
  imagesPerSecond: string;
}

/** The progress rows of a run's output, in order. */
export function progressRows(stdout: string): ProgressRow[] {
  return stdout
    .split('\n')
    .filter((l) => /^\s+\d+\s/.test(l))
    .map((l) => {
      const [step, epoch, loss, accuracy, positiveSimilarity, negativeSimilarity, queue, lr, imagesPerSecond] = l.trim().split(/\s+/);
      return { step: Number(step), epoch, loss, accuracy, positiveSimilarity, negativeSimilarity, queue, lr, imagesPerSecond };
    });
}
