import * as Comlink from 'comlink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ExperimentParam, ExperimentProgress, ExperimentResult, ExperimentRunResult } from '../worker/experimentTypes';
import type { OverlaySource } from './useOverlays';
import type { Training } from './useTraining';

export interface ExperimentRequest {
  param: ExperimentParam;
  values: (number | string)[];
  steps: number;
  knn: boolean;
}

/**
 * The page's side of an experiment: the Worker runs it (`experiment.run`), the page shows its
 * progress and table and draws its finished runs beside the current one. The controls are blocked
 * meanwhile: the experiment's runs use the Worker's model.
 */
export function useExperiment(training: Training) {
  const { workerApi, setup, params, view, setBusy } = training;
  const [progress, setProgress] = useState<ExperimentProgress | null>(null);
  const [finished, setFinished] = useState<ExperimentRunResult[]>([]);
  const [result, setResult] = useState<ExperimentResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [running, setRunning] = useState(false);
  // The Worker's live parameters come with every statistics batch (a new object each time): `run`
  // reads the latest through a ref, so that it (and what depends on it) is not rebuilt per batch.
  const liveParams = useRef(view.workerParams ?? params);
  useEffect(() => {
    liveParams.current = view.workerParams ?? params;
  }, [view.workerParams, params]);

  const run = useCallback(
    async (request: ExperimentRequest) => {
      const api = workerApi();
      if (!api) return;
      setError(null);
      setResult(null);
      setFinished([]);
      setCancelling(false);
      setRunning(true);
      setBusy('An experiment is running (its panel shows which run and step)…');
      const onProgress = (p: ExperimentProgress) => {
        setProgress(p);
        if (p.finished) setFinished(p.finished);
      };
      try {
        const r = await api.experiment.run({ ...request, base: { ...setup, params: liveParams.current } }, Comlink.proxy(onProgress));
        setResult(r);
        setFinished(r.runs);
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
      } finally {
        setProgress(null);
        setRunning(false);
        setCancelling(false);
        setBusy(null);
      }
    },
    [workerApi, setup, setBusy],
  );

  const cancel = useCallback(() => {
    setCancelling(true);
    workerApi()?.experiment.cancel().catch(() => undefined);
  }, [workerApi]);

  const clear = useCallback(() => {
    setResult(null);
    setFinished([]);
  }, []);

  /** The experiment's finished runs, drawn on the charts until cleared. */
  const overlaySources: OverlaySource[] = useMemo(() => finished.filter((r) => r.curves.count > 0).map((r, i) => ({ id: `experiment-${i}`, name: r.label, curves: r.curves, origin: 'experiment' })), [finished]);

  return { run, cancel, clear, progress, finished, result, error, cancelling, running, overlaySources };
}

export type Experiment = ReturnType<typeof useExperiment>;
