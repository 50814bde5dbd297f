import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { RecordingOrigin } from '../../train/recording';
import { formatDuration, formatInt } from '../format';
import { recordedWithoutGpu } from '../renderer';
import { copyLink } from '../shareLink';
import { OVERLAY_COLOURS, SeriesStore, type RunOverlay } from '../series';
import { recordedEvaluation, REPLAY_SPEEDS, replayLink, type Replay } from '../useReplay';
import { FilePickButton } from './FilePickButton';
import { KnnChart, percent } from './KnnChart';
import { LiveStatus } from './LiveStatus';
import styles from './ReplayPanel.module.css';
import { TaskButton } from './TaskButton';

/**
 * The recording's speed over its whole run, as the banner says it: named so, as the status line
 * beside it shows the recent steps' speed, another figure.
 */
export function recordedPace(made: RecordingOrigin): string {
  return `recorded at ${formatInt(Math.round(made.imagesPerSecond))} img/s over the whole run (${formatDuration(made.trainSeconds * 1000)} of training, ${formatDuration(made.wallSeconds * 1000)} with the evaluations)`;
}

/**
 * The classroom replay's controls: when none is shown, the shipped recordings (if any) and
 * *Open a recording…*; while one is shown, what it is and where it was made, play, pause, speed,
 * jump to the end, its kNN and probe curves, the final model's state, and *Leave the replay*.
 */
export function ReplayPanel({ replay }: { replay: Replay }) {
  const uid = useId();
  const { opening, error, shown, blocked } = replay;
  const shipped = replay.shipped ?? [];
  const [pick, setPick] = useState(0);
  // *Leave the replay* goes with the replay: the focus goes to the panel's heading that replaces it.
  const left = useRef(false);
  const offerHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (shown || !left.current) return;
    left.current = false;
    offerHeading.current?.focus();
  }, [shown]);
  // The probe's accuracies on the kNN chart, as a second line.
  const probes = shown?.probes;
  const probeOverlay = useMemo<RunOverlay[]>(() => (probes && probes.length > 0 ? [{ id: 'probe', label: 'linear probe', colour: OVERLAY_COLOURS[1], series: EMPTY_SERIES, knn: probes }] : []), [probes]);

  if (!shown) {
    return (
      <section className={`card ${styles.replay}`} aria-labelledby={`${uid}-title`} data-testid="replay-offer">
        <h2 id={`${uid}-title`} className={styles.title} ref={offerHeading} tabIndex={-1}>
          Classroom replay
        </h2>
        <p className="hint">No GPU here? Watch a run recorded on one: the same charts, diagram and kNN, then explore its final model in the Evaluation panel.</p>
        <div className={styles.row}>
          {shipped.length > 0 && (
            <>
              <select value={pick} onChange={(e) => setPick(Number(e.currentTarget.value))} aria-label="Recorded run" data-testid="replay-pick">
                {shipped.map((r, i) => (
                  <option key={r.file} value={i} title={r.description}>
                    {r.title}
                  </option>
                ))}
              </select>
              <button type="button" className="btn" disabled={opening !== null || blocked} onClick={() => void replay.openUrl(new URL(shipped[pick].file, new URL('replay/', new URL(import.meta.env.BASE_URL, location.href))).href)} data-testid="replay-play-shipped">
                Play
              </button>
            </>
          )}
          <FilePickButton accept=".zip" testId="replay-open" disabled={opening !== null || blocked} title="A recording made with npm run train -- --record FILE.zip" onFile={(file) => void replay.openFile(file)}>
            Open a recording…
          </FilePickButton>
        </div>
        {replay.shipped?.length === 0 && !opening && (
          <p className="hint" data-testid="replay-none-shipped">
            No recording comes with this copy of the app yet. Open one made with <code>npm run train -- … --record FILE.zip</code> (the README&rsquo;s{' '}
            <em>Classroom replay</em> says how to make the GPU one).
          </p>
        )}
        {opening && <p className="hint">Opening {opening}…</p>}
        {error && (
          <p className="hint hint--warn" role="alert" data-testid="replay-error">
            {error}
          </p>
        )}
      </section>
    );
  }

  const m = shown.recording.manifest;
  const made = m.made;
  const ended = shown.position >= shown.length;
  const lastKnn = shown.knn.at(-1);
  const lastProbe = shown.probes.at(-1);
  const withoutGpu = recordedWithoutGpu(made);
  const evaluating = ended ? null : recordedEvaluation(m, shown.position);
  const recordedSteps = shown.recording.columns.step.length;
  // What the class is watching: on a phone it comes with the status and the diagram, before the
  // controls that wait meanwhile.
  return (
    <section className={`card ${styles.replay} ${styles.shown}`} aria-labelledby={`${uid}-title`} data-testid="replay" data-ended={ended} data-steps={shown.shownSteps} data-narrow-first>
      <div className={styles.head}>
        <h2 id={`${uid}-title`} className={styles.title}>
          <span className={styles.badge} data-testid="replay-badge">
            Recording
          </span>{' '}
          {m.title}
        </h2>
        <div className={styles.row}>
          {shown.url && <ReplayLinkButton url={shown.url} />}
          <TaskButton
            disabled={shown.final.state === 'loading'}
            onClick={() => {
              left.current = true;
              void replay.leave();
            }}
            data-testid="replay-leave"
          >
            Leave the replay
          </TaskButton>
        </div>
      </div>
      <p className={styles.made} data-testid="replay-made">
        This is a recording, not training in this tab: made on {made.device} ({made.backend}) on {new Date(made.date).toUTCString()}, {recordedPace(made)}.{' '}
        <span className={styles.command}>
          Made with <code>{made.command}</code>
        </span>
      </p>
      {withoutGpu && (
        <p className="hint hint--warn" data-testid="replay-no-gpu">
          Not made on a GPU: {formatInt(m.setup.steps)} steps on {withoutGpu}. A recording made without a GPU is a test or a rehearsal: it shows how a replay
          works, and little or no learning (kNN may stay at the untrained network&rsquo;s level).
        </p>
      )}
      <div className={styles.row}>
        <button type="button" className="btn" onClick={() => (ended ? replay.restart() : replay.setPlaying(!shown.playing))} data-testid="replay-toggle">
          {ended ? 'Play again' : shown.playing ? 'Pause' : 'Play'}
        </button>
        <label>
          speed{' '}
          <select value={shown.speed} onChange={(e) => replay.setSpeed(Number(e.currentTarget.value))} data-testid="replay-speed">
            {REPLAY_SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        <TaskButton disabled={ended} onClick={replay.jumpToEnd} data-testid="replay-end">
          Jump to the end
        </TaskButton>
        <span className={styles.progress} data-testid="replay-progress">
          step {formatInt(shown.last?.step ?? 0)} of {formatInt(m.setup.steps)} · {formatDuration(shown.position)} of {formatDuration(shown.length)} recorded
          {evaluating && (
            <>
              {' · '}
              <span data-testid="replay-evaluating">{evaluating}</span>
            </>
          )}
        </span>
      </div>
      {/* A slider over the recorded steps: a teacher goes back to a moment to show it again (drag, or ← → and Page Up/Down). */}
      <input
        type="range"
        className={styles.bar}
        min={0}
        max={recordedSteps}
        step={1}
        value={ended ? recordedSteps : shown.shownSteps}
        onChange={(e) => replay.seekToSteps(Number(e.currentTarget.value))}
        aria-label="Replay position"
        aria-valuetext={`step ${formatInt(shown.last?.step ?? 0)} of ${formatInt(m.setup.steps)}`}
        title="Drag to go back or forward in the recording"
        data-testid="replay-seek"
      />
      {/* The untrained network's kNN once the replay has reached it: before, "kNN – (not yet)" beside its figure contradicted itself. */}
      <p className={styles.results} data-testid="replay-results">
        kNN {lastKnn ? `${percent(lastKnn.accuracy)} at step ${formatInt(lastKnn.step)}` : '– (not yet)'} · linear probe{' '}
        {lastProbe ? `${percent(lastProbe.y)} at step ${formatInt(lastProbe.x)}` : '– (not yet)'}
        {shown.knn.length > 0 && m.knn[0]?.step === 0 && ` · the untrained network: kNN ${percent(m.knn[0].accuracy)}`}
      </p>
      <KnnChart results={shown.knn} overlays={probeOverlay} label="kNN (recorded)" />
      <FinalModel replay={replay} />
    </section>
  );
}

const EMPTY_SERIES = new SeriesStore();

/** Copies a link that opens this recording (for the class to follow on their own screens); the note shows it where the clipboard refuses. */
function ReplayLinkButton({ url }: { url: string }) {
  const [note, setNote] = useState<{ link: string; copied: boolean } | null>(null);
  const copy = () => {
    const link = replayLink(url, location.href);
    copyLink(link).then(
      () => setNote({ link, copied: true }),
      () => setNote({ link, copied: false }),
    );
  };
  return (
    <>
      <button type="button" className="btn" onClick={copy} title="A link that opens this recording, for students to follow on their own screens" data-testid="replay-copy-link">
        Copy link
      </button>
      {note && (
        <span className="hint" role="status" data-testid="replay-link-note" data-link={note.link}>
          {note.copied ? 'Link to this recording copied.' : `Copy this link: ${note.link}`}
        </span>
      )}
    </>
  );
}

function FinalModel({ replay }: { replay: Replay }) {
  const shown = replay.shown!;
  const final = shown.final;
  // Its button goes once pressed: the focus moves to the line that says how the loading goes (and
  // a screen reader hears it change).
  const pressed = useRef(false);
  const line = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (final.state === 'recording' || !pressed.current) return;
    pressed.current = false;
    line.current?.focus();
  }, [final.state]);
  const said = final.state === 'loading' ? final.what : final.state === 'loaded' ? `The final model is loaded into the Evaluation panel (step ${formatInt(final.step)}).` : '';
  return (
    <div className={styles.row} data-testid="replay-final" data-state={final.state}>
      <LiveStatus text={said} testId="replay-final-announcement" />
      {final.state === 'recording' && (
        <>
          <span className="hint">At the end, the recorded final model goes into the Evaluation panel below (embedding, neighbours, kNN, probe).</span>
          <button
            type="button"
            className="btn"
            onClick={() => {
              pressed.current = true;
              void replay.loadFinal();
            }}
            data-testid="replay-load-final"
          >
            Explore the final model now
          </button>
        </>
      )}
      {(final.state === 'loading' || final.state === 'loaded') && (
        <span className="hint" ref={line} tabIndex={-1}>
          {final.state === 'loading' ? final.what : <>The Evaluation panel below now explores the recording&apos;s final model (step {formatInt(final.step)}).</>}
        </span>
      )}
      {final.state === 'failed' && (
        <span className="hint hint--warn" role="alert">
          The final model could not be loaded: {final.message}
        </span>
      )}
    </div>
  );
}
