import { formatInt } from '../format';
import type { Training } from '../useTraining';
import styles from './FaultNotice.module.css';

/**
 * Under the status: what went wrong with the run or its Worker, in words, with the way back —
 * *Restore last good state* after a NaN or blown-up step, *Restart* after the Worker ended — and,
 * once, what the recovery did.
 */
export function FaultNotice({ training }: { training: Training }) {
  const { view, workerLoss, notice, dismissNotice, restoreGoodState, restart, continueOnCpu } = training;
  const diverged = view.status.diverged;
  const busy = view.busy !== null;
  if (workerLoss) {
    const saved = workerLoss.saved;
    const lost = saved ? workerLoss.step - saved.step : workerLoss.step;
    return (
      <section className={`${styles.notice} ${styles['notice--error']}`} role="alert" data-testid="worker-lost">
        <p className={styles.text}>
          The training worker {workerLoss.reason} at step {formatInt(workerLoss.step)}
          {workerLoss.ended ? '. ' : ': it may be stuck in a long computation, or gone (if it answers again, this goes away). '}
          {saved
            ? `Restart ${workerLoss.ended ? 'starts' : 'ends it and starts'} a new worker that goes on from the last save at step ${formatInt(saved.step)} (${formatInt(lost)} step${lost === 1 ? '' : 's'} since then ${lost === 1 ? 'is' : 'are'} lost).`
            : `Nothing was saved yet: Restart ${workerLoss.ended ? 'starts' : 'ends it and starts'} a new worker with a fresh model (${formatInt(lost)} step${lost === 1 ? '' : 's'} lost).`}
        </p>
        <button type="button" className="btn btn--primary" data-testid="restart-worker" disabled={busy} onClick={() => void restart()}>
          Restart
        </button>
      </section>
    );
  }
  if (view.status.gpuLost) {
    return (
      <section className={`${styles.notice} ${styles['notice--error']}`} role="alert" data-testid="gpu-lost">
        <p className={styles.text} data-testid="gpu-lost-message">
          {view.status.gpuLost}
        </p>
        <button type="button" className="btn btn--primary" data-testid="continue-on-cpu" disabled={busy} onClick={() => void continueOnCpu()}>
          Continue on the CPU
        </button>
        <button type="button" className="btn" data-testid="restart-gpu" disabled={busy} onClick={() => void restart()}>
          Restart the worker
        </button>
      </section>
    );
  }
  if (diverged) {
    return (
      <section className={`${styles.notice} ${styles['notice--error']}`} role="alert" data-testid="diverged">
        <p className={styles.text} data-testid="diverged-message">
          {diverged.message}
        </p>
        <button type="button" className="btn btn--primary" data-testid="restore-good-state" disabled={busy} onClick={() => void restoreGoodState()}>
          Restore last good state (step {formatInt(diverged.restoreStep)})
        </button>
      </section>
    );
  }
  if (notice) {
    return (
      <section className={styles.notice} role="status" data-testid="fault-notice">
        <p className={styles.text}>{notice}</p>
        <button type="button" className="btn" onClick={dismissNotice} aria-label="Dismiss">
          ×
        </button>
      </section>
    );
  }
  return null;
}
