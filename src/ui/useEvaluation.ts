import * as Comlink from 'comlink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { BackendInfo } from '../worker/types';
import {
  KNN_EVERY_GPU,
  KNN_EVERY_SOFTWARE,
  type AugmentationPreview,
  type EmbeddingView,
  type EvaluationEvent,
  type EvaluationProgress,
  type KnnResult,
  type NeighboursResult,
  type ProbeResult,
} from '../worker/evaluationTypes';
import type { Training } from './useTraining';

/** Pairs shown by the augmentation preview. */
export const PREVIEW_PAIRS = 8;
/** How often the preview follows training, when it does. */
export const PREVIEW_INTERVAL_MS = 5000;
export const DEFAULT_PROBE_EPOCHS = 20;

/** The test of the default setup: WebGPU on a real adapter steps fast, anything else at software speed. */
export function defaultKnnEvery(backend: BackendInfo | null): number {
  const software = !backend || backend.backend !== 'webgpu' || /swiftshader/i.test(backend.adapter ?? '');
  return software ? KNN_EVERY_SOFTWARE : KNN_EVERY_GPU;
}

type Task = 'knn' | 'probe' | 'embedding' | 'neighbours' | 'preview';

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The page's side of the evaluation panel: the kNN results the Worker pushes, the on-demand calls
 * (kNN now, probe, embedding view, neighbours, augmentation preview) and their state. Results of an
 * older run (before a reset or a new dataset) are not shown.
 */
export function useEvaluation(training: Training) {
  const { view, workerApi, running } = training;
  const { runId, step } = view.status;
  const ready = view.phase === 'ready' && view.model !== null;
  const [knn, setKnn] = useState<KnnResult[]>([]);
  const [progress, setProgress] = useState<EvaluationProgress | null>(null);
  const [knnEveryChoice, setKnnEveryChoice] = useState<number | null>(null);
  const knnEvery = knnEveryChoice ?? defaultKnnEvery(view.backend);
  const [probe, setProbe] = useState<ProbeResult | null>(null);
  const [embedding, setEmbedding] = useState<EmbeddingView | null>(null);
  const [neighbours, setNeighbours] = useState<NeighboursResult | null>(null);
  const [preview, setPreview] = useState<AugmentationPreview | null>(null);
  const [autoPreview, setAutoPreview] = useState(true);
  const [pending, setPending] = useState<Partial<Record<Task, boolean>>>({});
  const [errors, setErrors] = useState<Partial<Record<Task, string>>>({});
  const previewInFlight = useRef(false);

  // Subscribe once the Worker is up; the listener only touches state setters, which never change.
  // A restarted Worker is a new API object: subscribe to it too.
  const subscribed = useRef<unknown>(null);
  useEffect(() => {
    const api = workerApi();
    if (!api || view.phase !== 'ready' || subscribed.current === api) return;
    subscribed.current = api;
    const onEvent = (event: EvaluationEvent) => {
      if (event.type === 'knn') {
        const r = event.result;
        setKnn((list) => [...list.filter((x) => !(x.runId === r.runId && x.step === r.step)), r].sort((a, b) => a.runId - b.runId || a.step - b.step));
        setProgress((p) => (p?.task === 'knn' && p.runId === r.runId && p.step === r.step ? null : p));
        setErrors((e) => ({ ...e, knn: undefined }));
      } else if (event.type === 'probe') {
        setProbe(event.result);
      } else if (event.type === 'progress') {
        setProgress(event.progress);
      } else {
        setProgress(null);
        setErrors((e) => ({ ...e, knn: `kNN at step ${event.step}: ${event.message}` }));
      }
    };
    api.evaluation.subscribe(Comlink.proxy(onEvent)).catch((e: unknown) => setErrors((x) => ({ ...x, knn: message(e) })));
  }, [workerApi, view.phase]);

  // The Worker runs the monitor at the interval shown here.
  useEffect(() => {
    const api = workerApi();
    if (!api || view.phase !== 'ready') return;
    api.evaluation.configure({ knnEvery }).catch((e: unknown) => setErrors((x) => ({ ...x, knn: message(e) })));
  }, [workerApi, view.phase, knnEvery]);

  const setKnnEvery = useCallback((n: number) => {
    if (Number.isInteger(n) && n >= 0) setKnnEveryChoice(n);
  }, []);

  /** Runs one Worker call for a task, with its pending flag and error message. */
  const run = useCallback(
    async <T>(task: Task, call: () => Promise<T>): Promise<T | null> => {
      setPending((p) => ({ ...p, [task]: true }));
      setErrors((e) => ({ ...e, [task]: undefined }));
      try {
        return await call();
      } catch (e) {
        setErrors((x) => ({ ...x, [task]: message(e) }));
        return null;
      } finally {
        setPending((p) => ({ ...p, [task]: false }));
        setProgress((p) => (p?.task === task ? null : p));
      }
    },
    [],
  );

  const runKnn = useCallback(() => {
    const api = workerApi();
    // The result arrives through the listener as well, which keeps one list of results.
    if (api) void run('knn', () => api.evaluation.evaluateKnn());
  }, [workerApi, run]);

  const trainProbe = useCallback(
    (epochs: number) => {
      const api = workerApi();
      if (!api) return;
      void run('probe', () => api.evaluation.trainProbe({ epochs })).then((r) => r && setProbe(r));
    },
    [workerApi, run],
  );

  const refreshEmbedding = useCallback(() => {
    const api = workerApi();
    if (!api) return;
    void run('embedding', () => api.evaluation.embeddingView()).then((r) => {
      if (!r) return;
      setEmbedding(r);
      setNeighbours(null);
    });
  }, [workerApi, run]);

  const showNeighbours = useCallback(
    (heldOutIndex: number) => {
      const api = workerApi();
      if (!api) return;
      void run('neighbours', () => api.evaluation.neighbours(heldOutIndex)).then((r) => r && setNeighbours(r));
    },
    [workerApi, run],
  );

  const refreshPreview = useCallback(() => {
    const api = workerApi();
    if (!api || previewInFlight.current) return;
    previewInFlight.current = true;
    void run('preview', () => api.evaluation.augmentationPreview(PREVIEW_PAIRS)).then((r) => {
      previewInFlight.current = false;
      if (r) setPreview(r);
    });
  }, [workerApi, run]);

  // While training, the preview follows the latest step every few seconds (when the step has moved on).
  const previewStep = preview?.runId === runId ? preview.step : -1;
  const latest = useRef({ step, previewStep });
  latest.current = { step, previewStep };
  useEffect(() => {
    if (!running || !autoPreview || !ready) return;
    const timer = setInterval(() => {
      if (latest.current.step !== latest.current.previewStep) refreshPreview();
    }, PREVIEW_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [running, autoPreview, ready, refreshPreview]);

  // Stable between statistics batches, so that the kNN chart (recharts) only redraws for a new result.
  const currentKnn = useMemo(() => knn.filter((r) => r.runId === runId), [knn, runId]);
  const knnPoints = useMemo(() => currentKnn.map((r) => ({ x: r.step, y: r.accuracy })), [currentKnn]);
  const current = <T extends { runId: number }>(x: T | null): T | null => (x && x.runId === runId ? x : null);
  return {
    ready,
    runId,
    step,
    knn: currentKnn,
    /** The same results as the charts' export reads them: accuracy (0..1) against the step. */
    knnPoints,
    // A periodic run given up at a pause sends no result: its progress is shown only while training.
    progress: progress && progress.runId === runId && (pending[progress.task] || (progress.task === 'knn' && running)) ? progress : null,
    knnEvery,
    setKnnEvery,
    runKnn,
    probe: current(probe),
    trainProbe,
    embedding: current(embedding),
    refreshEmbedding,
    neighbours: current(neighbours),
    showNeighbours,
    preview: current(preview),
    refreshPreview,
    autoPreview,
    setAutoPreview,
    pending,
    errors,
  };
}

export type EvaluationState = ReturnType<typeof useEvaluation>;
