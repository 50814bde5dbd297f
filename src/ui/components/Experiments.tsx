import { useId, useState } from 'react';
import { chanceLoss } from '../../train/finalFigures';
import { formatDecimal, formatNearOne } from '../../util/decimals';
import { EXPERIMENT_PARAMS, EXPERIMENT_PRESETS, firstDifferingStep, PAPER_FIGURES, type ExperimentParam, type ExperimentRunResult, type ExperimentSpec } from '../../worker/experimentTypes';
import type { TrainingSetup } from '../../worker/types';
import { experimentAnnouncement } from '../announcements';
import { formatDuration, formatInt, formatLearningRate, formatNumber } from '../format';
import { defaultLearningRate } from '../scales';
import type { Experiment, ExperimentRequest } from '../useExperiment';
import { BUILDING, type Training } from '../useTraining';
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

/**
 * Why runs of `steps` steps cannot differ in loss and accuracy, and how many they need
 * (`firstDifferingStep`); null where they can.
 */
export function tooShortHint(param: ExperimentParam, values: readonly (number | string)[], steps: number, base: Pick<TrainingSetup, 'batchSize'>): string | null {
  const needed = firstDifferingStep(param, values, base);
  if (steps >= needed) return null;
  const why =
    param === 'momentum'
      ? 'm acts through the key encoder, which stays a copy of the query encoder until the query encoder first learns, at step 2 (step 1’s queue is empty: no negatives, no gradient); step 3’s keys are the first from a key encoder that m has moved'
      : param === 'queueSize'
        ? `step s reads min(K, (s − 1) × batch ${formatInt(base.batchSize)}) keys, the same ones in every run until the smallest queue (K = ${formatInt(Math.min(...values.map(Number)))}) is full; the runs first differ at step ${formatInt(needed)}`
        : 'step 1’s queue is empty, so every run’s loss is 0 and its contrastive accuracy 100 %; the runs first differ at step 2, the first with negatives';
  return `With ${formatInt(steps)} ${steps === 1 ? 'step' : 'steps'} per run the loss and accuracy of the runs cannot differ: ${why}. Give at least ${formatInt(needed)} steps.`;
}

/**
 * What a short experiment can show, from its setup (`trainingImages`: the dataset's training images):
 * what the parameter does at once, that its effect on accuracy needs many epochs, and how far the
 * network moves in these steps at this learning rate (MoCo's 0.03 per 256 images, scaled to the batch).
 */
export function shortRunNote(spec: Pick<ExperimentSpec, 'param' | 'values' | 'steps' | 'base'>, trainingImages: number): string {
  const { param, values, steps, base } = spec;
  const batch = base.batchSize;
  const lr = base.params.learningRate;
  const epochs = (steps * batch) / trainingImages;
  const rate =
    lr === defaultLearningRate(batch)
      ? `the learning rate is 0.03 × ${formatInt(batch)}/256 = ${formatLearningRate(lr)} (MoCo’s 0.03 for 256 images, scaled to the batch)`
      : `the learning rate is ${formatLearningRate(lr)}`;
  const pace =
    `${formatInt(steps)} ${steps === 1 ? 'step' : 'steps'} of batch ${formatInt(batch)} ${param === 'batchSize' ? '(your setup’s; each run has its own) ' : ''}are ${formatDecimal(epochs, 2)} epochs of ${formatInt(trainingImages)} images and ${rate}` +
    (epochs < 1 ? ': so few steps move the network little, and the rows’ accuracy and kNN hardly differ.' : '.');
  if (param === 'momentum') {
    return (
      `m acts on the key encoder at once: with m = 0 its lag is 0 and its key consistency 1, a larger m trails further behind (see the key lag and key cos columns). ` +
      `Its effect on accuracy needs many epochs: the paper trains 200 epochs of ImageNet, and in our GPU runs (docs/LEARNING.md) m = 0 and 0.9 failed where 0.99 reached 48 % kNN after 20 epochs. Here ${pace}`
    );
  }
  if (param === 'queueSize') {
    const ks = values.map(Number).filter(Number.isFinite);
    const [lo, hi] = [Math.min(...ks), Math.max(...ks)];
    return (
      `K sets the loss’s chance level ln(K + 1) (${formatNumber(chanceLoss(lo), 3)} at K = ${formatInt(lo)}, ${formatNumber(chanceLoss(hi), 3)} at K = ${formatInt(hi)}): a smaller loss with a smaller K is not better learning. ` +
      `Compare loss ÷ ln(n + 1), 1 at chance for every K. Its effect on accuracy needs many epochs (the paper: 200 epochs of ImageNet). Here ${pace}`
    );
  }
  return `Here ${pace}`;
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
      <td data-testid="experiment-loss-ratio">{s ? formatNumber(s.finalLossRatio, 3) : '–'}</td>
      <td>{s ? percent(s.finalContrastiveAccuracy) : '–'}</td>
      <td>{s ? percent(s.knn) : '–'}</td>
      <td data-testid="experiment-key-lag">{s ? formatDecimal(s.finalKeyLag) : '–'}</td>
      <td data-testid="experiment-key-cos">{s ? formatNearOne(s.finalKeyConsistency) : '–'}</td>
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
export function Experiments({ training, experiment }: { training: Pick<Training, 'view' | 'setup' | 'params'>; experiment: Experiment }) {
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
  // While something else holds the Worker (a classroom replay, a load), the form waits with its Run,
  // as the training controls do (Controls' `held`): an experiment starts from the setup held aside meanwhile.
  const held = running || (training.view.busy !== null && training.view.busy !== BUILDING);
  const shortHint = problem || typeof values === 'string' ? null : tooShortHint(param, values, steps, training.setup);
  const request: ExperimentRequest | null = problem || typeof values === 'string' ? null : { param, values, steps, knn };
  const paper = PAPER_FIGURES[result?.spec.param ?? param];
  const rows = result?.runs ?? finished;
  return (
    <section className={`${styles.experiments} card`} aria-label="Experiments" data-testid="experiments">
      <h2>Experiments: the paper&rsquo;s ablations</h2>
      <p className="hint">
        One run per value, one after another, each from a fresh model with the current setup (network, method, dataset, seed, batch) and live parameters, changing only the
        chosen one; every run has the same length.{' '}
        {training.view.status.step > 0
          ? 'Your run is paused and saved first, and comes back as it was when the experiment ends or is cancelled.'
          : 'Your run has no step yet, so there is nothing to save: it comes back as a fresh model of the same setup when the experiment ends or is cancelled.'}
      </p>
      <div className={styles.experiments__form}>
        <span className={styles.experiments__field}>
          <label htmlFor={`${uid}-param`}>Vary</label>
          <select id={`${uid}-param`} data-testid="experiment-param" value={param} disabled={held} onChange={(e) => setParam(e.currentTarget.value as ExperimentParam)}>
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
            disabled={held}
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
            disabled={held}
            aria-invalid={problem !== null && typeof values !== 'string'}
            aria-describedby={problem !== null && typeof values !== 'string' ? `${uid}-problem` : undefined}
            onChange={(e) => setSteps(Number(e.currentTarget.value))}
          />
        </span>
        <label>
          <input type="checkbox" data-testid="experiment-knn" checked={knn} disabled={held} onChange={(e) => setKnn(e.currentTarget.checked)} /> kNN at the end of each run
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
            disabled={held}
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
      {shortHint && (
        <p className="hint hint--warn" data-testid="experiment-too-short">
          {shortHint}
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
          {result.restoredLost !== null
            ? `Your run is as it was before the experiment: ${result.restoredLost}`
            : result.restoredStep > 0
              ? `Your run is back at step ${formatInt(result.restoredStep)}.`
              : 'Your run had no step yet: it is back as a fresh model.'}{' '}
          The runs are drawn on the charts
          until you clear them.
        </p>
      )}
      {rows.length > 0 && (
        <div className={styles.experiments__results}>
          {/* Ten columns do not fit a phone: the table scrolls sideways in its panel, the run's name staying in view. */}
          <div className={styles.experiments__scroll} data-testid="experiment-table-scroll">
            <table className={`data-table ${styles.experiments__table}`} data-testid="experiment-table">
              <thead>
                <tr>
                  <th scope="col">run</th>
                  <th scope="col">steps</th>
                  <th scope="col">final loss</th>
                  <th scope="col">loss ÷ ln(n+1)</th>
                  <th scope="col">contrastive acc.</th>
                  <th scope="col">kNN</th>
                  <th scope="col">key lag</th>
                  <th scope="col">key cos</th>
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
          </div>
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
      {rows.length > 0 && (
        <p className="hint">
          Every figure but kNN and time: means over the last tenth of the steps. Loss ÷ ln(n+1): the loss over its chance level, n the keys in the queue, 1 at chance for every K. Key lag:
          ‖θk − θq‖/‖θq‖, how far the key encoder trails the query encoder; key cos: the key consistency, the mean cosine of the two encoders’ embeddings of 16 fixed images. Time:
          training steps only.
        </p>
      )}
      {rows.length > 0 && training.view.model && (
        <p className="hint" data-testid="experiment-note">
          {shortRunNote(result?.spec ?? { param, values: typeof values === 'string' ? [] : values, steps, base: { ...training.setup, params: training.params } }, rows.find((r) => r.trainingImages !== null)?.trainingImages ?? training.view.model.datasetSize)}
        </p>
      )}
    </section>
  );
}
