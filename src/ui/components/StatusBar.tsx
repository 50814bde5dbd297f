import { useEffect, useState } from 'react';
import { formatDuration, formatInt, formatNumber } from '../format';
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

export function StatusBar({ training }: { training: Training }) {
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
      <div className={`${styles.state} ${styles[`state--${status.state}`] ?? ''}`} data-testid="run-state" role="status">
        {view.phase === 'failed' ? 'Error' : starting ? 'Starting…' : STATE_LABELS[status.state]}
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
