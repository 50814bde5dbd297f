import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { SavedRun } from '../../worker/types';
import { formatInt, formatMomentum } from '../format';
import type { Training } from '../useTraining';
import { FilePickButton } from './FilePickButton';
import styles from './SavedRuns.module.css';
import { TaskButton } from './TaskButton';

function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The list's date: numeric, so that it takes one short line (`when` in its cell's title). */
function shortWhen(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

/** A run on the user's files resumes once the same files are loaded again (their content hash is checked). */
function filesNote(run: SavedRun): string | null {
  return run.dataset === 'files' ? `load ${run.datasetName} (${formatInt(run.datasetSize)} images) in the Data panel first` : null;
}

/** 0.2 → "0.2", 0.000937 → "0.000937": four significant digits at most. */
function short(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** The parameters the list can show, each as one part of the cell ("m 0.99"). */
const PARAMETERS: { always: boolean; part: (run: SavedRun & Required<Pick<SavedRun, 'params'>>) => string }[] = [
  { always: true, part: (r) => `m ${formatMomentum(r.params.momentum)}` },
  { always: true, part: (r) => `K ${formatInt(r.params.queueSize)}` },
  { always: false, part: (r) => `T ${short(r.params.temperature)}` },
  { always: false, part: (r) => `lr ${short(r.params.learningRate)}` },
  { always: false, part: (r) => (r.seed === undefined ? '' : `seed ${r.seed}`) },
];

/**
 * What tells two runs of one setup apart in the list, by run id: m and K always (MoCo's two ideas,
 * the paper's two ablations), and T, the learning rate and the seed where they differ among the
 * listed runs. The live values at the save; none for a save from before they were kept.
 */
export function runParameters(runs: readonly SavedRun[]): Map<string, string[]> {
  const known = runs.filter((r): r is SavedRun & Required<Pick<SavedRun, 'params'>> => r.params !== undefined);
  const shown = PARAMETERS.filter((p) => p.always || new Set(known.map(p.part)).size > 1);
  return new Map(known.map((r) => [r.id, shown.map((p) => p.part(r)).filter((part) => part !== '')]));
}

/** What the list calls a run until the user names it. */
function defaultName(run: SavedRun): string {
  return `${run.preset} on ${run.datasetName}`;
}

/**
 * The words after "the run saved at step N" in its row's buttons: what tells it from another run
 * saved at the same step, as the row shows it. Its name where the user named it, else the name the
 * list gives it (setup and dataset), the rest of its setup and its parameters (the Setup and
 * Parameters columns' text).
 */
export function runDistinction(run: SavedRun, parameters: readonly string[] | undefined): string {
  if (run.name !== undefined) return `“${run.name}”`;
  const setup = `${defaultName(run)} · MoCo ${run.version} · batch ${run.batchSize}`;
  return parameters && parameters.length > 0 ? `${setup} · ${parameters.join(' · ')}` : setup;
}

/**
 * A name as typed into the field, made one line of at most 80 characters; null where nothing is left
 * to save (the name stays as it was).
 */
export function cleanRunName(draft: string): string | null {
  const name = draft.replace(/\s+/g, ' ').trim().slice(0, 80).trim();
  return name === '' ? null : name;
}

/**
 * The run's name, edited in place: Enter or leaving the field keeps it, Escape drops the edit. A
 * text area that wraps, so that a long name shows whole ("tiny on Built-in shapes (train)" and the
 * same on the CIFAR-10 sample differ only at the end); it grows with its lines (CSS field-sizing,
 * or its scroll height where a browser lacks that).
 */
function RunName({ run, onRename }: { run: SavedRun; onRename: (name: string) => void }) {
  const shown = run.name ?? defaultName(run);
  // The list gives each saved name its own key, so a new name or save starts a fresh draft.
  const [draft, setDraft] = useState(shown);
  const field = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => {
    const el = field.current;
    if (!el || typeof CSS === 'undefined' || CSS.supports('field-sizing', 'content')) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
  }, [draft]);
  const commit = () => {
    const name = cleanRunName(draft);
    if (name === null || name === shown) setDraft(shown);
    else onRename(name);
  };
  return (
    <textarea
      ref={field}
      className={styles.runs__name}
      data-testid="saved-run-name"
      aria-label={`Name of the run saved at step ${run.step}`}
      title={shown}
      rows={1}
      value={draft}
      maxLength={80}
      spellCheck={false}
      onChange={(e) => setDraft(e.currentTarget.value.replace(/[\r\n]+/g, ' '))}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          // A name is one line: Enter keeps it instead of breaking it.
          e.preventDefault();
          e.currentTarget.blur();
        }
        if (e.key === 'Escape') setDraft(shown);
      }}
    />
  );
}

/**
 * The offer to go on with the latest saved run when the page opens, and the list of runs the
 * Worker saved to the browser's storage (after a new run's first step, every 30 s of training and on every pause).
 */
export function SavedRuns({ training, shown, onShow }: { training: Training; shown?: ReadonlySet<string>; onShow?: (run: SavedRun, on: boolean) => void }) {
  const { view, savedRuns, resumeSaved, renameSavedRun, deleteSavedRun, downloadRun, openRun, running } = training;
  const save = view.status.save ?? null;
  const [offerClosed, setOfferClosed] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  // The offer's buttons go with it: the focus goes to the list's heading below, not to the page's start.
  const closeOffer = () => {
    setOfferClosed(true);
    heading.current?.focus();
  };
  const [storage, setStorage] = useState<{ usage: number; quota: number; persisted: boolean } | null>(null);

  // Once something is saved, ask the browser not to evict it silently, and show the space used.
  const hasRuns = (savedRuns?.length ?? 0) > 0;
  useEffect(() => {
    if (!hasRuns || !navigator.storage?.estimate) return;
    let cancelled = false;
    (async () => {
      const persisted = (await navigator.storage.persisted?.()) || (await navigator.storage.persist?.()) || false;
      const { usage = 0, quota = 0 } = await navigator.storage.estimate();
      if (!cancelled) setStorage({ usage, quota, persisted });
    })().catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [hasRuns, savedRuns]);

  const latest = savedRuns?.[0];
  const offer = latest && !offerClosed && view.status.step === 0 && !running && !view.busy ? latest : null;
  const busy = view.busy !== null || running;
  const parameters = useMemo(() => runParameters(savedRuns ?? []), [savedRuns]);
  return (
    <section className={`${styles.runs} card`} aria-label="Saved runs">
      {offer && (
        <div className={styles.runs__offer} data-testid="resume-offer">
          <button type="button" className="btn btn--primary" data-testid="resume-run" onClick={() => void resumeSaved(offer).then(closeOffer)}>
            Resume run (step {formatInt(offer.step)}, {offer.datasetName}, {when(offer.savedAt)})
          </button>
          <button type="button" className="btn" onClick={closeOffer}>
            New run
          </button>
          {filesNote(offer) && <p className="hint hint--warn">To resume it, {filesNote(offer)}.</p>}
        </div>
      )}
      <div className={styles.runs__head}>
        <h2 ref={heading} tabIndex={-1}>
          Saved runs
        </h2>
        <span className="hint" data-testid="save-status" data-step={save?.step ?? 0} data-blocked-ms={save?.blockedMs} data-write-ms={save?.writeMs}>
          {save && save.step > 0 ? `This run is saved at step ${formatInt(save.step)} (${when(save.savedAt)})` : 'Training saves itself after its first step, then every 30 s and on every pause'}
        </span>
      </div>
      <div className={styles.runs__files}>
        <button type="button" className="btn" data-testid="download-run" disabled={busy || view.status.step === 0} onClick={() => void downloadRun()} title="The whole run as one checkpoint file: open it here or elsewhere, or go on with npm run train -- --resume">
          <span aria-hidden="true">⤓</span> Download run
        </button>
        <FilePickButton accept=".zip" testId="open-run" disabled={busy} title="Go on with the run of a checkpoint file (this app's or the headless trainer's)" onFile={(file) => void openRun(file)}>
          <span aria-hidden="true">⤒</span> Open run…
        </FilePickButton>
      </div>
      {save?.error && (
        <p className={styles.runs__error} role="alert" data-testid="save-error">
          Not saved: {save.error}
        </p>
      )}
      {savedRuns && savedRuns.length > 0 ? (
        <table className={`data-table ${styles.runs__table}`} data-testid="saved-runs">
          <thead>
            <tr>
              {onShow && <th scope="col">Charts</th>}
              <th scope="col">Name</th>
              <th scope="col">Saved</th>
              <th scope="col">Steps</th>
              <th scope="col">Dataset</th>
              <th scope="col">Setup</th>
              <th scope="col" title="The live parameters at the save: m and K, and T, the learning rate or the seed where they differ among the runs">
                Parameters
              </th>
              <th scope="col">kNN</th>
              <th scope="col">Size</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {savedRuns.map((run) => {
              const which = `the run saved at step ${run.step}: ${runDistinction(run, parameters.get(run.id))}`;
              return (
                <tr key={run.id} data-testid="saved-run">
                  {onShow && (
                    <td data-label="Charts">
                      {run.runKey === view.status.runKey ? (
                        // Its curves are the charts' own lines: drawn again they would only hide under them.
                        <span className="hint" data-testid="saved-run-current" title="This save is the run in use: the charts draw it already">
                          this run
                        </span>
                      ) : (
                        <input
                          type="checkbox"
                          data-testid="saved-run-show"
                          checked={shown?.has(run.runKey) ?? false}
                          onChange={(e) => onShow(run, e.currentTarget.checked)}
                          aria-label={`Show ${which} on the charts`}
                          title="Show on charts, beside the run in use"
                        />
                      )}
                    </td>
                  )}
                  <td className={styles['runs__name-cell']}>
                    <RunName key={`${run.id}:${run.name ?? ''}`} run={run} onRename={(name) => void renameSavedRun(run, name)} />
                  </td>
                  <td data-label="Saved" title={when(run.savedAt)}>
                    {shortWhen(run.savedAt)}
                  </td>
                  <td data-label="Steps" data-testid="saved-run-steps">
                    {formatInt(run.step)}
                  </td>
                  <td data-label="Dataset" title={filesNote(run) ?? run.datasetName}>
                    <span className={styles.runs__clip}>{run.datasetName}</span>
                  </td>
                  <td data-label="Setup">
                    <span className={styles.runs__part}>{run.preset} ·</span> <span className={styles.runs__part}>MoCo {run.version} ·</span> <span className={styles.runs__part}>batch {run.batchSize}</span>
                  </td>
                  <td data-label="Parameters" data-testid="saved-run-params">
                    {/* Parts joined by spaces outside them: a long list breaks between its parts, never inside one. */}
                    {parameters.get(run.id)?.flatMap((part, i, parts) => [
                      i > 0 ? ' ' : null,
                      <span key={part} className={styles.runs__part}>
                        {i < parts.length - 1 ? `${part} ·` : part}
                      </span>,
                    ]) ?? '–'}
                  </td>
                  <td data-label="kNN">{run.lastKnn === null ? '–' : `${(run.lastKnn * 100).toFixed(1)}%`}</td>
                  <td data-label="Size">{megabytes(run.bytes)}</td>
                  <td className={styles.runs__actions}>
                    <TaskButton disabled={busy} onClick={() => void resumeSaved(run)} aria-label={`Resume ${which}`}>
                      Resume
                    </TaskButton>
                    {/* Its row goes with it: the focus goes to the list's heading, not to the page's start. */}
                    <TaskButton disabled={busy} onClick={() => void deleteSavedRun(run).then(() => heading.current?.focus())} aria-label={`Delete ${which}`}>
                      Delete
                    </TaskButton>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : (
        <p className="hint">{savedRuns === null ? 'Reading saved runs…' : 'No saved run yet.'}</p>
      )}
      {storage && (
        <p className="hint" data-testid="storage">
          Storage used by this page: {megabytes(storage.usage)} of {megabytes(storage.quota)}
          {storage.persisted ? ' (kept: the browser will not evict it)' : ' (the browser may evict it when space runs low)'}
        </p>
      )}
    </section>
  );
}
