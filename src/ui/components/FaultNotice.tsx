import { BACKEND_LABELS, type DeviceRecovery } from '../../worker/types';
import { formatInt } from '../format';
import type { RunWarnings as Warnings, WarningKeys } from '../runWarnings';
import type { Training } from '../useTraining';
import styles from './FaultNotice.module.css';

/** What a recovery from a lost GPU device did: the loss in the browser's words, the backend now, the step it goes on from, the steps lost. */
function recoveryMessage(r: DeviceRecovery): string {
  const backend = r.backend!;
  const on = backend.backend === 'webgpu' ? 'WebGPU again, on a new device' : `the ${BACKEND_LABELS[backend.backend]} (${backend.fallbackReason ?? 'WebGPU did not come back'})`;
  const from = r.fromStep ?? 0;
  const lost = Math.max(0, r.lostAtStep - from);
  const start = from === 0 ? 'a fresh model (no state was kept yet)' : `step ${formatInt(from)}, the last state kept`;
  return `The GPU device was ${r.lost} at step ${formatInt(r.lostAtStep)}. Training ${r.resumed ? 'resumed' : 'can resume'} on ${on}, from ${start}: ${formatInt(lost)} step${lost === 1 ? ' was' : 's were'} lost.`;
}

/**
 * Warnings of a run that trains on: a finite loss far above ln(K+1) (until a step's loss is back
 * below the threshold, or dismissed), GPU errors no check caught (until dismissed; *Restart the
 * worker* if they repeat). Nothing here stops training.
 */
export function RunWarnings({ warnings, busy, onDismiss, onRestart }: { warnings: Warnings; busy: boolean; onDismiss: (which: keyof WarningKeys) => void; onRestart: () => void }) {
  const { loss, gpu } = warnings;
  return (
    <>
      {loss && (
        <section className={`${styles.notice} ${styles['notice--warn']}`} role="status" data-testid="loss-warning">
          <p className={styles.text} data-testid="loss-warning-message">
            {loss.message}
            {loss.steps > 1 && ` So far ${formatInt(loss.steps)} steps in a row, since step ${formatInt(loss.fromStep)}.`}
          </p>
          <button type="button" className="btn" data-testid="dismiss-loss-warning" onClick={() => onDismiss('loss')} aria-label="Dismiss the warning">
            ×
          </button>
        </section>
      )}
      {gpu && (
        <section className={`${styles.notice} ${styles['notice--warn']}`} role="status" data-testid="gpu-error">
          <p className={styles.text} data-testid="gpu-error-message">
            {gpu.message}
          </p>
          <button type="button" className="btn" data-testid="gpu-error-restart" disabled={busy} onClick={onRestart}>
            Restart the worker
          </button>
          <button type="button" className="btn" data-testid="dismiss-gpu-error" onClick={() => onDismiss('gpu')} aria-label="Dismiss the warning">
            ×
          </button>
        </section>
      )}
    </>
  );
}

/**
 * Under the status: the run's warnings (`RunWarnings`) while it trains on, and what went wrong with
 * the run or its Worker, in words, with the way back — *Restore last good state* after a NaN step, *Restart* after the Worker ended, the
 * fallback or *Restart* after a lost GPU device the Worker did not recover by itself — and, once,
 * what a recovery did (a lost GPU device's: on which backend, from which step, how many lost).
 */
export function FaultNotice({ training }: { training: Training }) {
  const { view, workerLoss, warnings, dismissRunWarning, restart } = training;
  // A run that stopped says only why it stopped.
  const stopped = workerLoss !== null || Boolean(view.status.gpuLost) || Boolean(view.status.diverged);
  return (
    <>
      {!stopped && <RunWarnings warnings={warnings} busy={view.busy !== null} onDismiss={dismissRunWarning} onRestart={() => void restart()} />}
      <Fault training={training} />
    </>
  );
}

/** What went wrong and the way back, or what a recovery did; null when nothing did. */
function Fault({ training }: { training: Training }) {
  const { view, workerLoss, notice, dismissNotice, recovered, dismissRecovered, restoreGoodState, restart, continueOnCpu } = training;
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
          Continue without the GPU
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
  const recovering = view.status.deviceRecovery?.phase === 'recovering' ? view.status.deviceRecovery : null;
  if (recovering) {
    return (
      <section className={styles.notice} role="status" data-testid="gpu-recovering">
        <p className={styles.text}>
          The GPU device was {recovering.lost} at step {formatInt(recovering.lostAtStep)}: starting a new backend and restoring the last state kept…
        </p>
      </section>
    );
  }
  if (recovered) {
    return (
      <section className={styles.notice} role="status" data-testid="gpu-recovered">
        <p className={styles.text} data-testid="gpu-recovered-message">
          {recoveryMessage(recovered)}
        </p>
        <button type="button" className="btn" onClick={dismissRecovered} aria-label="Dismiss">
          ×
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
