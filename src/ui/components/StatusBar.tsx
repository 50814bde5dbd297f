import { useEffect, useState } from 'react';
import { formatDuration, formatInt, formatNumber } from '../format';
import type { ExperimentProgress } from '../../worker/experimentTypes';
import type { ReplayShown } from '../useReplay';
import type { Training } from '../useTraining';
import styles from './StatusBar.module.css';

const STATE_LABELS = { idle: 'Ready', running: 'Training', paused: 'Paused', finished: 'Finished', error: 'Error' } as const;

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className={styles.stat}>
      <span className={styles.stat__label}>{label}</span>
      <span className={styles.stat__value} data-testid={testId}>
        {value}
      </span>
    </div>
  );
}

/**
 * The run's state and figures: the Worker's run, or while a classroom replay is shown, the replay's
 * (its step, its recorded time), so that the line never says "Ready" at step 0 beside a recording
 * that plays. While an experiment runs (`experiment`: true, or its progress once known) the figures
 * are its current run's, and the state says so: not "Ready", "Paused" or "Finished" between and
 * at the end of its runs.
 */
export function StatusBar({ training, replay, experiment }: { training: Training; replay?: ReplayShown | null; experiment?: ExperimentProgress | boolean | null }) {
  if (replay) return <ReplayStatus replay={replay} />;
  return <RunStatus training={training} experiment={experiment ?? null} />;
}

/** The state line while an experiment runs: which of its runs. */
export function experimentState(progress: ExperimentProgress | true): string {
  return progress === true ? 'Experiment' : `Experiment, run ${formatInt(progress.run + 1)} of ${formatInt(progress.runs)}`;
}

function ReplayStatus({ replay }: { replay: ReplayShown }) {
  const ended = replay.position >= replay.length;
  const [state, label] = ended ? (['finished', 'Replayed'] as const) : replay.playing ? (['running', 'Replaying'] as const) : (['paused', 'Replay paused'] as const);
  const last = replay.store.last();
  const steps = replay.recording.manifest.setup.steps;
  const step = last?.step ?? 0;
  return (
    <section className={`${styles.status} card`} aria-label="Replay status" data-narrow-first data-replay>
      <div className={`${styles.state} ${styles[`state--${state}`]}`} data-testid="run-state" role="status">
        {label}
      </div>
      <Stat label="Step" value={formatInt(step)} testId="status-step" />
      <Stat label="Epoch" value={last ? formatNumber(last.epoch, 3) : '0'} testId="status-epoch" />
      <Stat label="Images seen" value={formatInt(last?.imagesSeen ?? 0)} testId="status-images" />
      <Stat label="Recorded time" value={formatDuration(replay.position)} testId="status-elapsed" />
      {/* The recent steps' speed, which the replay's banner (the whole run's average) is not. */}
      <Stat label="Images/s (recorded, recent steps)" value={formatNumber(replay.store.length ? replay.store.recentMean('imagesPerSecond', 20) : NaN, 3)} testId="status-throughput" />
      {steps > 0 && (
        <div className={styles.progress}>
          <span className={styles.stat__label}>
            {formatInt(step)} / {formatInt(steps)} recorded steps
          </span>
          <progress max={steps} value={Math.min(step, steps)} aria-label="Replay progress" />
        </div>
      )}
    </section>
  );
}

function RunStatus({ training, experiment }: { training: Training; experiment: ExperimentProgress | boolean | null }) {
  const { view, store } = training;
  const { status, statusAt } = view;
  const running = status.state === 'running';
  // The Worker reports the elapsed time with each batch; between batches (slow steps) it ticks here.
  const [now, setNow] = useState(0);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(performance.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  const elapsed = running && now > statusAt ? status.elapsedMs + (now - statusAt) : status.elapsedMs;
  const last = store.last();
  // Throughput over the last few steps: one step's figure is noisy.
  const throughput = store.length ? store.recentMean('imagesPerSecond', 20) : NaN;
  const budget = status.stepBudget;
  // "Ready" only once the Worker has built the dataset and the model (Start is enabled then).
  const starting = status.state === 'idle' && (view.phase !== 'ready' || view.model === null);
  return (
    <section className={`${styles.status} card`} aria-label="Training status" data-narrow-first>
      <div className={`${styles.state} ${styles[`state--${experiment ? 'running' : status.state}`] ?? ''}`} data-testid="run-state" role="status">
        {view.phase === 'failed' ? 'Error' : experiment ? experimentState(experiment) : starting ? 'Starting…' : STATE_LABELS[status.state]}
      </div>
      <Stat label="Step" value={formatInt(status.step)} testId="status-step" />
      <Stat label="Epoch" value={last ? formatNumber(last.epoch, 3) : '0'} testId="status-epoch" />
      <Stat label="Images seen" value={formatInt(last?.imagesSeen ?? 0)} testId="status-images" />
      <Stat label="Elapsed" value={formatDuration(elapsed)} testId="status-elapsed" />
      <Stat label="Images/s" value={formatNumber(throughput, 3)} testId="status-throughput" />
      {budget > 0 && (
        <div className={styles.progress}>
          <span className={styles.stat__label}>
            {formatInt(status.step)} / {formatInt(budget)} steps
          </span>
          <progress data-testid="progress" max={budget} value={Math.min(status.step, budget)} aria-label="Progress towards the step budget" />
        </div>
      )}
      {status.error && !status.diverged && !status.gpuLost && (
        <p className={styles.error} role="alert">
          {status.error}
        </p>
      )}
    </section>
  );
}
