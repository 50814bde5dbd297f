import { useId, useState } from 'react';
import { EXPERIMENT_PARAMS, EXPERIMENT_PRESETS, PAPER_FIGURES, type ExperimentParam, type ExperimentRunResult } from '../../worker/experimentTypes';
import { experimentAnnouncement } from '../announcements';
import { formatDuration, formatInt, formatNumber } from '../format';
import type { Experiment, ExperimentRequest } from '../useExperiment';
import type { Training } from '../useTraining';
import styles from './Experiments.module.css';
import { LiveStatus } from './LiveStatus';
import { TaskButton } from './TaskButton';

/** Steps per run the form starts with: a few minutes of the tiny network in software, seconds on a GPU. */
const DEFAULT_STEPS = 100;

/** The values as typed ("0, 0.9, 0.99"), or why they cannot run. */
export function parseValues(param: ExperimentParam, text: string): (number | string)[] | string {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length < 1) return 'give at least one value';
  if (param === 'version') return parts.every((p) => p === 'v1' || p === 'v2') ? parts : `the method is v1 or v2, not ${parts.find((p) => p !== 'v1' && p !== 'v2')}`;
  const values = parts.map(Number);
  const bad = parts.find((_, i) => !Number.isFinite(values[i]));
  return bad === undefined ? values : `'${bad}' is not a number`;
}

function percent(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(1)}%`;
}

function ResultRow({ run }: { run: ExperimentRunResult }) {
  const s = run.summary;
  return (
    <tr data-testid="experiment-row">
      <th scope="row">{run.label}</th>
      <td>{s ? formatInt(s.steps) : '–'}</td>
      <td>{s ? formatNumber(s.finalLoss, 4) : '–'}</td>
      <td>{s ? percent(s.finalContrastiveAccuracy) : '–'}</td>
      <td>{s ? percent(s.knn) : '–'}</td>
      <td>{s ? `${formatNumber(s.seconds, 3)} s` : '–'}</td>
      <td>{run.error ?? ''}</td>
    </tr>
  );
}

/**
 * Experiments: one run per value of a parameter (the MoCo paper's ablations), trained one after
 * another by the Worker from the current setup, then a table beside the paper's figures and the
 * runs' curves on the charts.
 */
export function Experiments({ training, experiment }: { training: Training; experiment: Experiment }) {
  const uid = useId();
  const [param, setParam] = useState<ExperimentParam>('momentum');
  const [valuesText, setValuesText] = useState('0, 0.9, 0.99, 0.999');
  const [steps, setSteps] = useState(DEFAULT_STEPS);
  const [knn, setKnn] = useState(true);
  const { progress, finished, result, error, running, cancelling } = experiment;
  const values = parseValues(param, valuesText);
  const problem = typeof values === 'string' ? values : !Number.isInteger(steps) || steps < 1 ? 'steps per run must be a whole number ≥ 1' : null;
  const ready = training.view.phase === 'ready' && training.view.model !== null;
  // Also while the page is busy otherwise (building a model, loading files); a running experiment shows Cancel instead.
  const blocked = !ready || training.view.busy !== null;
  const request: ExperimentRequest | null = problem || typeof values === 'string' ? null : { param, values, steps, knn };
  const paper = PAPER_FIGURES[result?.spec.param ?? param];
  const rows = result?.runs ?? finished;
  return (
    <section className={`${styles.experiments} card`} aria-label="Experiments" data-testid="experiments">
      <h2>Experiments: the paper&rsquo;s ablations</h2>
      <p className="hint">
        One run per value, one after another, each from a fresh model with the current setup (network, method, dataset, seed, batch) and live parameters, changing only the
        chosen one; every run has the same length. Your run is paused and saved first, and comes back as it was when the experiment ends or is cancelled.
      </p>
      <div className={styles.experiments__form}>
        <span className={styles.experiments__field}>
          <label htmlFor={`${uid}-param`}>Vary</label>
          <select id={`${uid}-param`} data-testid="experiment-param" value={param} disabled={running} onChange={(e) => setParam(e.currentTarget.value as ExperimentParam)}>
            {(Object.keys(EXPERIMENT_PARAMS) as ExperimentParam[]).map((p) => (
              <option key={p} value={p}>
                {EXPERIMENT_PARAMS[p].label}
              </option>
            ))}
          </select>
        </span>
        <span className={styles.experiments__field}>
          <label htmlFor={`${uid}-values`}>values</label>
          <input
            id={`${uid}-values`}
            className={styles.experiments__values}
            data-testid="experiment-values"
            value={valuesText}
            disabled={running}
            // A screen reader hears why the values are refused where they are typed.
            aria-invalid={typeof values === 'string'}
            aria-describedby={typeof values === 'string' ? `${uid}-problem` : undefined}
            placeholder={param === 'version' ? 'v1, v2' : '0, 0.9, 0.99'}
            onChange={(e) => setValuesText(e.currentTarget.value)}
          />
        </span>
        <span className={styles.experiments__field}>
          <label htmlFor={`${uid}-steps`}>steps per run</label>
          <input
            id={`${uid}-steps`}
            className={styles.experiments__steps}
            data-testid="experiment-steps"
            type="number"
            min={1}
            step={1}
            value={steps}
            disabled={running}
            aria-invalid={problem !== null && typeof values !== 'string'}
            aria-describedby={problem !== null && typeof values !== 'string' ? `${uid}-problem` : undefined}
            onChange={(e) => setSteps(Number(e.currentTarget.value))}
          />
        </span>
        <label>
          <input type="checkbox" data-testid="experiment-knn" checked={knn} disabled={running} onChange={(e) => setKnn(e.currentTarget.checked)} /> kNN at the end of each run
        </label>
      </div>
      <div className={styles.experiments__form}>
        <span className="hint">Presets:</span>
        {EXPERIMENT_PRESETS.map((p) => (
          <button
            key={p.name}
            type="button"
            className="btn"
            data-testid={`experiment-preset-${p.param}`}
            disabled={running}
            onClick={() => {
              setParam(p.param);
              setValuesText(p.values.join(', '));
            }}
          >
            {p.name}
          </button>
        ))}
        {running ? (
          <TaskButton data-testid="experiment-cancel" disabled={cancelling} onClick={experiment.cancel}>
            {cancelling ? (progress?.phase === 'knn' ? 'Cancelling: stopping the kNN evaluation…' : 'Cancelling after this step…') : 'Cancel'}
          </TaskButton>
        ) : (
          // A TaskButton as Cancel is: the same element, so the keyboard's focus stays on it as it changes.
          <TaskButton className="btn btn--primary" data-testid="experiment-run" disabled={blocked || request === null} aria-describedby={problem ? `${uid}-problem` : undefined} onClick={() => request && void experiment.run(request)}>
            Run experiment
          </TaskButton>
        )}
        {!running && rows.length > 0 && (
          <button type="button" className="btn" data-testid="experiment-clear" onClick={experiment.clear}>
            Clear results
          </button>
        )}
      </div>
      {problem && (
        <p className="hint hint--warn" id={`${uid}-problem`} data-testid="experiment-problem">
          {problem}
        </p>
      )}
      <LiveStatus text={experimentAnnouncement(progress, running)} testId="experiment-announcement" />
      {running && (
        // Not live: it changes at every step; the LiveStatus below says each run and phase once.
        <p data-testid="experiment-progress">
          {!progress || progress.phase === 'saving'
            ? 'Saving your run…'
            : progress.phase === 'restoring'
              ? 'Putting your run back…'
              : `Run ${progress.run + 1} of ${progress.runs} (${progress.label}): ${progress.phase === 'knn' ? 'kNN evaluation' : `step ${formatInt(progress.step)} of ${formatInt(progress.steps)}`}${
                  progress.remainingMs === null ? ' · time left: known after the first step' : ` · about ${formatDuration(progress.remainingMs)} left`
                }`}
        </p>
      )}
      {error && (
        <p className={styles.experiments__error} role="alert" data-testid="experiment-error">
          The experiment stopped: {error}. Your run was put back.
        </p>
      )}
      {result && (
        <p className="hint" data-testid="experiment-status">
          {result.cancelled ? `Cancelled after ${result.runs.length} of ${result.spec.values.length} runs.` : `Finished: ${result.runs.length} runs of ${formatInt(result.spec.steps)} steps.`}{' '}
          {result.restoredStep > 0 ? `Your run is back at step ${formatInt(result.restoredStep)}.` : 'Your run had no step yet: it is back as a fresh model.'} The runs are drawn on the charts
          until you clear them.
        </p>
      )}
      {rows.length > 0 && (
        <div className={styles.experiments__results}>
          <table className={`data-table ${styles.experiments__table}`} data-testid="experiment-table">
            <thead>
              <tr>
                <th scope="col">run</th>
                <th scope="col">steps</th>
                <th scope="col">final loss</th>
                <th scope="col">contrastive acc.</th>
                <th scope="col">kNN</th>
                <th scope="col">time</th>
                <th scope="col">
                  <span className="visually-hidden">problem</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <ResultRow key={String(r.value)} run={r} />
              ))}
            </tbody>
          </table>
          {paper && (
            <figure className={styles.experiments__paper} data-testid="experiment-paper">
              <table className="data-table">
                <thead>
                  <tr>
                    <th scope="col">{EXPERIMENT_PARAMS[result?.spec.param ?? param].symbol}</th>
                    <th scope="col">paper: ImageNet linear top-1</th>
                  </tr>
                </thead>
                <tbody>
                  {paper.rows.map((r) => (
                    <tr key={r.value}>
                      <th scope="row">{r.value}</th>
                      <td>{r.result}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <figcaption className="hint">{paper.note}</figcaption>
            </figure>
          )}
          {!paper && (
            <p className="hint" data-testid="experiment-paper">
              The MoCo paper (He et al. 2020, §4.1) ablates the momentum m and the queue size K; it gives no figures for this parameter to compare with.
            </p>
          )}
        </div>
      )}
      {rows.length > 0 && <p className="hint">Final loss and contrastive accuracy: means over the last tenth of the steps. Time: training steps only.</p>}
    </section>
  );
}
