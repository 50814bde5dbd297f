/**
 * Experiments in the Worker: one run per value of a parameter, one after another on the same data,
 * seed and length (the MoCo paper's ablations, as `--sweep` runs them headless), each from a fresh
 * model. The user's run is set aside first (saved, and kept whole) and comes back at the end, also
 * when the experiment is cancelled or a run fails.
 */
import { validateLiveParams } from '../moco/config';
import { finalFigures } from '../train/finalFigures';
import { errorMessage } from './backend';
import { Aborted } from './evaluation';
import type { ExperimentProgress, ExperimentResult, ExperimentRunResult, ExperimentSpec } from './experimentTypes';
import { EXPERIMENT_PARAMS } from './experimentTypes';
import { yieldToEventLoop } from './lock';
import { labelOf } from './runLabels';
import { statColumns } from './stepStats';
import type { TrainingService } from './training';
import type { StepRecord, TrainingSetup } from './types';

/** Progress goes to the page at most this often (and at every run's start and end). */
const PROGRESS_INTERVAL_MS = 250;
export const MAX_EXPERIMENT_RUNS = 8;
export const MAX_EXPERIMENT_STEPS = 100_000;

/** The setup of each run: the base with the parameter set to one value, the step budget the experiment's length. */
export function experimentSetups(spec: ExperimentSpec): TrainingSetup[] {
  const { base, param, values, steps } = spec;
  if (!EXPERIMENT_PARAMS[param]) throw new Error(`an experiment can vary ${Object.keys(EXPERIMENT_PARAMS).join(', ')}, not '${param}'`);
  if (values.length < 1 || values.length > MAX_EXPERIMENT_RUNS) throw new Error(`an experiment has 1 to ${MAX_EXPERIMENT_RUNS} values, got ${values.length}`);
  if (new Set(values.map(String)).size !== values.length) throw new Error(`an experiment lists a value twice: ${values.join(', ')}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_EXPERIMENT_STEPS) throw new Error(`steps per run must be a whole number from 1 to ${MAX_EXPERIMENT_STEPS}, got ${steps}`);
  return values.map((value) => {
    const setup: TrainingSetup = { ...base, stepBudget: steps, params: { ...base.params } };
    if (param === 'version') {
      if (value !== 'v1' && value !== 'v2') throw new Error(`the method is v1 or v2, not '${value}'`);
      setup.version = value;
    } else {
      const x = Number(value);
      if (typeof value !== 'number' || !Number.isFinite(x)) throw new Error(`${EXPERIMENT_PARAMS[param].label} needs numbers, got '${value}'`);
      if (param === 'batchSize') {
        if (!Number.isInteger(x) || x < 2) throw new Error(`the batch size must be a whole number ≥ 2, got ${x}`);
        setup.batchSize = x;
      } else {
        setup.params[param] = x;
        validateLiveParams({ [param]: x });
      }
    }
    return setup;
  });
}

/** What the runner needs of the training service (its public calls). */
type Host = Pick<TrainingService, 'holdRun' | 'restoreRun' | 'configure' | 'step' | 'status' | 'evaluation'>;

export class ExperimentRunner {
  private cancelRequested = false;
  private running = false;

  constructor(
    private readonly host: Host,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Runs the experiment and resolves with its table (also when cancelled: the runs finished by
   * then). `onProgress` hears which run and step, and the time left.
   */
  async run(spec: ExperimentSpec, onProgress?: (progress: ExperimentProgress) => void): Promise<ExperimentResult> {
    if (this.running) throw new Error('an experiment is already running: cancel it first');
    const setups = experimentSetups(spec);
    const labels = setups.map((s) => labelOf(s, spec.param));
    this.running = true;
    this.cancelRequested = false;
    const runs: ExperimentRunResult[] = [];
    const started = this.now();
    let stepsDone = 0;
    let lastReport = -Infinity;
    const report = (p: Omit<ExperimentProgress, 'runs' | 'steps' | 'remainingMs' | 'finished'>, force = false) => {
      const t = this.now();
      if (!onProgress || (!force && t - lastReport < PROGRESS_INTERVAL_MS)) return;
      lastReport = t;
      const left = setups.length * spec.steps - stepsDone;
      const remainingMs = stepsDone > 0 ? ((t - started) / stepsDone) * left : null;
      // The finished runs go at each run's start and end only, as copies: what crosses to the page is moved, not copied.
      onProgress({ ...p, runs: setups.length, steps: spec.steps, remainingMs, ...(force ? { finished: structuredClone(runs) } : {}) });
    };
    try {
      report({ run: 0, label: labels[0], step: 0, phase: 'saving' }, true);
      const held = await this.host.holdRun();
      try {
        for (let i = 0; i < setups.length && !this.cancelRequested; i++) {
          report({ run: i, label: labels[i], step: 0, phase: 'training' }, true);
          const records: StepRecord[] = [];
          let error: string | null = null;
          let knn: number | null = null;
          let knnPoints: { step: number; accuracy: number }[] = [];
          let trainingImages: number | null = null;
          try {
            trainingImages = (await this.host.configure(setups[i])).datasetSize;
            while (records.length < spec.steps && !this.cancelRequested) {
              records.push(await this.host.step());
              stepsDone++;
              report({ run: i, label: labels[i], step: records.length, phase: 'training' });
              // Between steps, let the page's calls in (a cancel; on the CPU backend a step never yields by itself).
              await yieldToEventLoop();
            }
            if (spec.knn && records.length === spec.steps) {
              report({ run: i, label: labels[i], step: records.length, phase: 'knn' }, true);
              try {
                // A cancel stops the kNN at its next chunk of images (it takes a while on a large held-out set), not after it.
                knn = (await this.host.evaluation.evaluateKnnUnless(() => this.cancelRequested)).accuracy;
              } catch (e) {
                if (!(e instanceof Aborted)) throw e;
              }
            }
            knnPoints = this.host.evaluation.knnResults().map((r) => ({ step: r.step, accuracy: r.accuracy }));
          } catch (e) {
            error = errorMessage(e);
          }
          // A cancelled run's steps do not count towards the estimate of the runs left.
          stepsDone += spec.steps - records.length;
          if (records.length === 0 && this.cancelRequested) break;
          runs.push({
            value: spec.values[i],
            label: labels[i],
            trainingImages,
            summary: records.length ? { steps: records.length, ...finalFigures(records), knn, seconds: this.host.status().elapsedMs / 1000 } : null,
            error,
            curves: { setup: setups[i], count: records.length, columns: statColumns(records), knn: knnPoints },
          });
        }
      } finally {
        report({ run: Math.min(runs.length, setups.length - 1), label: '', step: 0, phase: 'restoring' }, true);
        await this.host.restoreRun(held);
      }
      return { spec, runs, cancelled: this.cancelRequested, restoredStep: held.step, restoredLost: held.lost ? this.host.status().error : null };
    } finally {
      this.running = false;
      this.cancelRequested = false;
    }
  }

  /** Refuses a call of the page that would change the run while an experiment trains in the service. */
  refuseWhileRunning(): void {
    if (this.running) throw new Error('an experiment is running: cancel it in the Experiments panel, or let it finish (your run then comes back), before training or changing the run');
  }

  /** Stops after the step in flight; `run` then resolves with the runs finished, and the user's run is back. */
  async cancel(): Promise<void> {
    if (this.running) this.cancelRequested = true;
  }
}
