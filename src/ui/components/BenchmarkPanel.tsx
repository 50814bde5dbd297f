import { useEffect, useId, useRef, useState } from 'react';
import { BenchmarkCancelled, startBenchmark, type BenchmarkRun } from '../../worker/bridge';
import { benchTable, describeSizes, formatRatio, recommendation, type BenchReport, type BenchRow } from '../../worker/gpuBenchmarkReport';
import { BACKEND_LABELS } from '../../worker/types';
import { saveBlob } from '../download';
import { formatDuration, formatInt, formatNumber } from '../format';
import type { Training } from '../useTraining';
import styles from './BenchmarkPanel.module.css';
import { TaskButton } from './TaskButton';

type Phase = 'idle' | 'pausing' | 'running' | 'resuming' | 'done' | 'failed';

/** Progress lines kept on screen: the latest few say where the run is. */
const LOG_LINES = 6;

function NotAvailable({ note }: { note: string | null }) {
  return (
    <span className={styles.bench__na} title={note ?? undefined}>
      n/a
    </span>
  );
}

function VsStock({ row }: { row: BenchRow }) {
  const s = row.vsStock;
  if (!s) return <>–</>;
  const parts: string[] = [];
  if (s.imagesPerSecond != null) parts.push(`${formatRatio(s.imagesPerSecond)} img/s`);
  if (s.dispatches != null) parts.push(`${formatRatio(s.dispatches)} fewer dispatches`);
  if (s.gpuTime != null) parts.push(`${formatRatio(s.gpuTime)} less GPU time`);
  return <>{parts.join(' · ') || '–'}</>;
}

function ResultTable({ report }: { report: BenchReport }) {
  const { rows, failures } = benchTable(report);
  // Each reason once under the table, rather than in every n/a cell.
  const notes = [...new Set(rows.flatMap((r) => [r.dispatchesNote, r.gpuNote]).filter((n): n is string => n !== null))];
  return (
    <>
      <div className={styles.bench__table}>
        <table className="data-table" data-testid="bench-table">
          <thead>
            <tr>
              <th scope="col">Backend</th>
              <th scope="col">Kernels</th>
              <th scope="col">img/s</th>
              <th scope="col">Step ms (host part)</th>
              <th scope="col">Dispatches / step</th>
              <th scope="col">GPU ms / step</th>
              <th scope="col">Ours vs stock</th>
              <th scope="col">Of fastest</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr
                key={`${r.backend}-${r.variant}`}
                className={r.fastest ? styles.bench__fastest : undefined}
                data-testid="bench-row"
                data-fastest={r.fastest || undefined}
                data-backend={r.backend}
                data-kernels={r.kernels}
                data-images-per-second={r.imagesPerSecond}
                data-dispatches={r.dispatches ?? ''}
                data-gpu-ms={r.gpuMs ?? ''}
                data-host-ms={r.hostMs}
              >
                <th scope="row">
                  {BACKEND_LABELS[r.backend]}
                  {r.device && <span className={styles.bench__device}>{r.device}</span>}
                </th>
                <td>{r.kernels}</td>
                <td>{formatNumber(r.imagesPerSecond, 3)}</td>
                <td>
                  {formatInt(r.stepMs)} (host {formatInt(r.hostMs)})
                </td>
                <td>{r.dispatches === null ? <NotAvailable note={r.dispatchesNote} /> : formatInt(r.dispatches)}</td>
                <td>{r.gpuMs === null ? <NotAvailable note={r.gpuNote} /> : formatInt(r.gpuMs)}</td>
                <td>
                  <VsStock row={r} />
                </td>
                <td>{r.fastest ? 'fastest' : formatRatio(r.relative)}</td>
              </tr>
            ))}
            {failures.map((f) => (
              <tr key={f.backend} data-testid="bench-failure" data-backend={f.backend}>
                <th scope="row">{BACKEND_LABELS[f.backend]}</th>
                <td colSpan={7}>{f.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {notes.length > 0 && (
        <ul className={styles.bench__notes} data-testid="bench-notes">
          {notes.map((n) => (
            <li key={n}>n/a: {n}</li>
          ))}
        </ul>
      )}
    </>
  );
}

/**
 * "Benchmark my GPU" (issue #5): the MoCo step timed on each backend of this browser, our WebGPU
 * kernels against stock tfjs, in a Worker of its own. Training pauses meanwhile (both would share
 * the GPU, and the timings would mean nothing) and resumes afterwards if it was running.
 */
export function BenchmarkPanel({ training }: { training: Training }) {
  const uid = useId();
  // The click handler outlives many renders (a benchmark takes minutes): it reads the hook's latest state.
  const latest = useRef(training);
  useEffect(() => {
    latest.current = training;
  });
  const [phase, setPhase] = useState<Phase>('idle');
  const [lines, setLines] = useState<string[]>([]);
  const [report, setReport] = useState<BenchReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pausedTraining, setPausedTraining] = useState(false);
  const current = useRef<BenchmarkRun | null>(null);
  useEffect(() => () => current.current?.cancel(), []);

  const busy = phase === 'pausing' || phase === 'running' || phase === 'resuming';

  const benchmark = async () => {
    const t = latest.current;
    const wasRunning = t.running;
    setPausedTraining(wasRunning);
    setReport(null);
    setError(null);
    setLines([]);
    if (wasRunning) {
      setPhase('pausing');
      await t.pause();
    }
    setPhase('running');
    const request = { preset: t.setup.preset, batch: t.setup.batchSize, version: t.setup.version, queueSize: t.params.queueSize };
    const run = startBenchmark(request, (line) => setLines((l) => [...l, line].slice(-LOG_LINES)));
    current.current = run;
    let failed = false;
    try {
      setReport(await run.done);
    } catch (e) {
      failed = true;
      setError(e instanceof BenchmarkCancelled ? 'Cancelled.' : e instanceof Error ? e.message : String(e));
    } finally {
      current.current = null;
    }
    if (wasRunning) {
      setPhase('resuming');
      await latest.current.start();
    }
    setPhase(failed ? 'failed' : 'done');
  };

  const trainingBackend = training.view.backend?.backend ?? null;
  return (
    <section className={`card ${styles.bench}`} aria-labelledby={`${uid}-title`} data-testid="bench-panel">
      <div className={styles.bench__head}>
        <h2 id={`${uid}-title`}>Benchmark my GPU</h2>
        <p className="hint">
          Times one MoCo training step on each backend this browser has (WebGPU, WebGL), with our WebGPU kernels and with stock TensorFlow.js kernels,
          in a separate Worker. Your setup on a GPU; the tiny network at batch 8 on a software renderer.
        </p>
      </div>
      <div className={styles.bench__actions}>
        <TaskButton data-testid="bench-start" disabled={busy} onClick={() => void benchmark()}>
          {report || error ? 'Benchmark again' : 'Benchmark my GPU'}
        </TaskButton>
        {phase === 'running' && (
          <button type="button" className="btn" data-testid="bench-cancel" onClick={() => current.current?.cancel()}>
            Cancel
          </button>
        )}
        {report && !busy && (
          <button
            type="button"
            className="btn"
            data-testid="bench-download"
            onClick={() => saveBlob(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }), `moco-benchmark-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`)}
          >
            Download JSON
          </button>
        )}
      </div>
      {busy && (
        <div className={styles.bench__progress} role="status" data-testid="bench-progress" data-phase={phase}>
          <p className={styles.bench__training} data-testid="bench-training-note">
            {phase === 'pausing'
              ? 'Pausing training for the benchmark…'
              : phase === 'resuming'
                ? 'Resuming training…'
                : pausedTraining
                  ? 'Training is paused while the benchmark runs; it resumes when it ends.'
                  : 'Training is not running; it stays paused until you start it.'}
          </p>
          {lines.length > 0 && (
            <pre className={styles.bench__log} data-testid="bench-log">
              {lines.join('\n')}
            </pre>
          )}
        </div>
      )}
      {error && (
        <p className={styles.bench__error} role="alert" data-testid="bench-error">
          {error}
        </p>
      )}
      {report && (
        <div  data-testid="bench-result">
          <p className={styles.bench__recommendation} data-testid="bench-recommendation">
            {recommendation(report, trainingBackend)}
          </p>
          <ResultTable report={report} />
          <p className="hint">
            {describeSizes(report.sizes)}; {formatDuration(report.ms)} in all.
            {report.runs.some((r) => r.software) && ' A software renderer runs on the CPU: its figures say nothing of a GPU.'}
          </p>
        </div>
      )}
    </section>
  );
}
