import { useCallback, useId, useState } from 'react';
import type { EvaluationTask, ProbeResult } from '../../worker/evaluationTypes';
import { EVALUATION_TASK_NAMES as TASK_NAMES, evaluationAnnouncement } from '../announcements';
import { formatInt, formatNumber } from '../format';
import type { RunOverlay } from '../series';
import { CPU_BACKEND, softwareRenderer, WASM_BACKEND } from '../renderer';
import { DEFAULT_PROBE_EPOCHS, type EvaluationState } from '../useEvaluation';
import type { Training } from '../useTraining';
import { AugmentationPreview } from './AugmentationPreview';
import { EmbeddingScatter } from './EmbeddingScatter';
import { KnnChart, PerClassTable, percent } from './KnnChart';
import { LiveStatus } from './LiveStatus';
import { NeighboursView } from './NeighboursView';
import { TaskButton } from './TaskButton';
import { Term } from './Term';
import styles from './Evaluation.module.css';

/** "about 40 s left", "about 3 min left"; empty while the pace is unknown. */
function timeLeft(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  if (seconds < 1) return ' · almost done';
  if (seconds < 90) return ` · about ${Math.ceil(seconds)} s left`;
  return ` · about ${Math.round(seconds / 60)} min left`;
}

/** Progress of the evaluation of one of `tasks`, if one is running: the phase, its count and the time left in it. */
function Progress({ ev, tasks }: { ev: EvaluationState; tasks: EvaluationTask[] }) {
  const p = ev.progress && tasks.includes(ev.progress.task) ? ev.progress : null;
  // The line changes with every batch of images: a screen reader hears only its phases.
  return (
    <>
      <LiveStatus text={evaluationAnnouncement(p)} testId="eval-announcement" />
      {p && (
        <p className="hint" data-testid="eval-progress" data-phase={p.phaseNumber} data-done={p.done}>
          {TASK_NAMES[p.task]} at step {formatInt(p.step)}, {p.phaseNumber} of {p.phaseCount}: {p.phase} {formatInt(p.done)} / {formatInt(p.total)}
          {timeLeft(p.secondsLeft)}
          <progress className={styles['eval-progress']} max={p.total} value={p.done} aria-label={`${p.phase}: ${p.done} of ${p.total}`} />
        </p>
      )}
    </>
  );
}

/** On a software renderer every evaluation is slow: say so, and why, before the user waits. */
function SoftwareNote({ training }: { training: Training }) {
  const renderer = softwareRenderer(training.view.backend);
  if (!renderer) return null;
  return (
    <p className={`hint hint--warn ${styles['eval-software']}`} data-testid="eval-software">
      No GPU:{' '}
      {renderer === CPU_BACKEND || renderer === WASM_BACKEND ? `the tensors run on ${renderer}` : `WebGPU runs on a software renderer (${renderer}): the processor draws what a graphics card would`},
      one to two orders of magnitude slower. A kNN run over a few thousand images takes a minute or more here (about a second on a GPU); the progress lines
      say how long.
    </p>
  );
}

function ErrorLine({ text }: { text: string | undefined }) {
  return text ? (
    <p className="hint hint--warn" role="alert">
      {text}
    </p>
  ) : null;
}

function KnnCard({ ev, overlays, step }: { ev: EvaluationState; overlays?: RunOverlay[]; step: number }) {
  const uid = useId();
  const latest = ev.knn.at(-1);
  return (
    <section className={`card ${styles['eval-card']}`} aria-labelledby={`${uid}-title`}>
      <h3 id={`${uid}-title`}>kNN accuracy on held-out images</h3>
      <p className="hint">
        <Term id="weightedKnn">Weighted kNN (k 200, t 0.1)</Term>, the MoCo CIFAR demo&apos;s <Term id="knnMonitor" />: each held-out image takes the votes of its
        most similar training images, on the <Term id="testTransform" />. Chance is dashed.
      </p>
      <div className={styles['eval-row']}>
        <label htmlFor={`${uid}-every`}>every</label>
        <input
          id={`${uid}-every`}
          type="number"
          min={0}
          step={1}
          value={ev.knnEvery}
          onChange={(e) => ev.setKnnEvery(Number(e.currentTarget.value))}
          // "every" alone says nothing to a screen reader: the name says what repeats, and the unit.
          aria-label="Run kNN every how many steps (0: off)"
          data-testid="knn-every"
          className={styles['eval-number']}
        />
        <span>steps (0: off)</span>
        <TaskButton onClick={ev.runKnn} disabled={!ev.ready || ev.pending.knn} data-testid="knn-run">
          Run now
        </TaskButton>
      </div>
      <Progress ev={ev} tasks={['knn']} />
      <ErrorLine text={ev.errors.knn} />
      {latest ? (
        <>
          <p className={styles['eval-result']} data-testid="knn-latest">
            <strong>{percent(latest.accuracy)}</strong> at step {formatInt(latest.step)}
            <span className="hint">
              {' '}
              · {formatInt(latest.queryCount)} held-out images, bank {formatInt(latest.bankSize)}, k {latest.k} · {formatNumber(latest.seconds, 2)} s
            </span>
          </p>
          <KnnChart results={ev.knn} overlays={overlays} />
          <details className={styles['eval-details']}>
            <summary>Per class at step {formatInt(latest.step)}</summary>
            <PerClassTable perClass={latest.perClass} classNames={latest.classNames} testId="knn-per-class" />
          </details>
          <details className={styles['eval-details']}>
            {/* Not "runs": the page's runs are training runs; these are the kNN evaluations of this one. */}
            <summary data-testid="knn-history">Every kNN result ({ev.knn.length})</summary>
            <table className="per-class">
              <thead>
                <tr>
                  <th scope="col">step</th>
                  <th scope="col">accuracy</th>
                  <th scope="col">time</th>
                  <th scope="col">by</th>
                </tr>
              </thead>
              <tbody>
                {ev.knn.map((r) => (
                  <tr key={r.step} data-testid="knn-row">
                    <td>{formatInt(r.step)}</td>
                    <td>{percent(r.accuracy)}</td>
                    <td>{formatNumber(r.seconds, 2)} s</td>
                    <td>{r.trigger === 'monitor' ? 'monitor' : 'run now'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      ) : (
        <>
          <p className="hint" data-testid="knn-empty" hidden={ev.pending.knn}>
            {step === 0 ? (
              <>
                No result yet. Run now before training for the <Term id="baseline">untrained network&rsquo;s baseline</Term>.
              </>
            ) : (
              <>
                No result for this run yet. Run now for its accuracy at step {formatInt(step)}
                {ev.knnEvery > 0 ? `, or wait for the monitor (every ${formatInt(ev.knnEvery)} steps)` : ''}.
              </>
            )}
          </p>
          {overlays?.some((o) => o.knn.length > 0) && <KnnChart results={ev.knn} overlays={overlays} />}
        </>
      )}
    </section>
  );
}

/**
 * What a probe result was trained on. A result the headless trainer kept (a resumed checkpoint, a
 * classroom recording) has no feature width: it is left out, not shown as NaN.
 */
export function probeDetails(p: Pick<ProbeResult, 'classNames' | 'epochs' | 'trainSize' | 'featureDim' | 'seconds'>): string {
  const on = Number.isFinite(p.featureDim) ? `${formatInt(p.trainSize)} × ${formatInt(p.featureDim)} features` : `${formatInt(p.trainSize)} images`;
  return `chance ${percent(1 / p.classNames.length)} · ${formatInt(p.epochs)} epochs on ${on} · ${formatNumber(p.seconds, 2)} s`;
}

function ProbeCard({ ev }: { ev: EvaluationState }) {
  const uid = useId();
  const [epochs, setEpochs] = useState(DEFAULT_PROBE_EPOCHS);
  const p = ev.probe;
  return (
    <section className={`card ${styles['eval-card']}`} aria-labelledby={`${uid}-title`}>
      <h3 id={`${uid}-title`}>Linear probe</h3>
      <p className="hint">
        <Term id="linearProbe">Softmax regression</Term> on the frozen backbone features of the training images, scored on the held-out images. No step runs
        meanwhile.
      </p>
      <div className={styles['eval-row']}>
        <label htmlFor={`${uid}-epochs`}>epochs</label>
        <input
          id={`${uid}-epochs`}
          type="number"
          min={1}
          max={200}
          step={1}
          value={epochs}
          onChange={(e) => setEpochs(Math.max(1, Math.min(200, Math.round(Number(e.currentTarget.value)) || 1)))}
          className={styles['eval-number']}
          data-testid="probe-epochs"
        />
        <TaskButton onClick={() => ev.trainProbe(epochs)} disabled={!ev.ready || ev.pending.probe} data-testid="probe-train">
          {ev.pending.probe ? 'Training the probe…' : 'Train linear probe'}
        </TaskButton>
      </div>
      <Progress ev={ev} tasks={['probe']} />
      <ErrorLine text={ev.errors.probe} />
      {p && (
        <>
          <p className={styles['eval-result']} data-testid="probe-result">
            top-1 <strong>{percent(p.accuracy)}</strong> at step {formatInt(p.step)}
            <span className="hint">
              {' '}
              · {probeDetails(p)}
            </span>
          </p>
          <details className={styles['eval-details']}>
            <summary>Per class</summary>
            <PerClassTable perClass={p.perClass} classNames={p.classNames} testId="probe-per-class" />
          </details>
        </>
      )}
    </section>
  );
}

function EmbeddingCard({ ev }: { ev: EvaluationState }) {
  const uid = useId();
  const [selected, setSelected] = useState<number | null>(null);
  const { showNeighbours } = ev;
  const select = useCallback(
    (i: number) => {
      setSelected(i);
      showNeighbours(i);
    },
    [showNeighbours],
  );
  return (
    <section className={`card ${styles['eval-card']} ${styles['eval-card--wide']}`} aria-labelledby={`${uid}-title`}>
      <h3 id={`${uid}-title`}>Embedding of the held-out images</h3>
      <p className="hint">
        Backbone features projected on their two principal axes (<Term id="pca" />). Click a point for its 8 nearest training images (cosine similarity), or Tab to the plot, move with the arrow keys and press Enter.
      </p>
      <div className={styles['eval-row']}>
        <TaskButton onClick={ev.refreshEmbedding} disabled={!ev.ready || ev.pending.embedding} data-testid="embedding-refresh">
          {ev.embedding ? 'Refresh embedding' : 'Show embedding'}
        </TaskButton>
        {ev.embedding && ev.embedding.step !== ev.step && <span className="hint">from step {formatInt(ev.embedding.step)}</span>}
      </div>
      <Progress ev={ev} tasks={['embedding', 'neighbours']} />
      <ErrorLine text={ev.errors.embedding ?? ev.errors.neighbours} />
      <div className={styles.embedding}>
        {ev.embedding && <EmbeddingScatter view={ev.embedding} selected={ev.neighbours || ev.pending.neighbours ? selected : null} onSelect={select} />}
        {ev.neighbours && ev.embedding && <NeighboursView result={ev.neighbours} />}
      </div>
    </section>
  );
}

function PreviewCard({ ev }: { ev: EvaluationState }) {
  const uid = useId();
  const p = ev.preview;
  return (
    <section className={`card ${styles['eval-card']} ${styles['eval-card--wide']}`} aria-labelledby={`${uid}-title`}>
      <h3 id={`${uid}-title`}>What the encoders see: pairs of augmented views</h3>
      <p className="hint">
        Images of the batch of the last step, each with the two views that step made of it (random crop, flip, colour jitter, grayscale, and blur
        with MoCo v2): the query encoder got the first, the momentum encoder the second.
      </p>
      <div className={styles['eval-row']}>
        <TaskButton onClick={ev.refreshPreview} disabled={!ev.ready || ev.pending.preview} data-testid="preview-refresh">
          {p ? 'Latest step' : 'Show views'}
        </TaskButton>
        <label className="check">
          <input type="checkbox" checked={ev.autoPreview} onChange={(e) => ev.setAutoPreview(e.currentTarget.checked)} data-testid="preview-auto" />
          follow training (every 5 s)
        </label>
        {p && <span className="hint">batch of step {formatInt(p.batchStep)}</span>}
      </div>
      <ErrorLine text={ev.errors.preview} />
      {p && <AugmentationPreview preview={p} />}
    </section>
  );
}

/** The evaluation panel: how good the representation is, and what the network is trained on. */
/**
 * The evaluation panel. `waiting`: why its actions wait, said above them (a replay shown before its
 * final model is loaded: the Worker's model then is the run held aside, not the recording's, and an
 * embedding of it would be taken for the recording's).
 */
export function Evaluation({ training, ev: live, overlays, waiting }: { training: Training; ev: EvaluationState; overlays?: RunOverlay[]; waiting?: string | null }) {
  const ev = waiting ? { ...live, ready: false } : live;
  return (
    <section className={styles.evaluation} aria-label="Evaluation" data-testid="evaluation">
      {waiting && (
        <p className={`hint ${styles['eval-software']}`} role="status" data-testid="eval-waiting">
          {waiting}
        </p>
      )}
      <SoftwareNote training={training} />
      <KnnCard ev={ev} overlays={overlays} step={training.view.status.step} />
      <ProbeCard ev={ev} />
      <EmbeddingCard ev={ev} />
      <PreviewCard ev={ev} />
    </section>
  );
}
