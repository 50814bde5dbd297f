import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { RunCurves } from '../worker/experimentTypes';
import { labelsByDifference, tellApart } from '../worker/runLabels';
import type { SavedRun, TrainingSetup } from '../worker/types';
import { OVERLAY_COLOURS, SeriesStore, type RunOverlay } from './series';
import type { Training } from './useTraining';

/** A run to draw beside the current one: a saved run's or an experiment's curves, and what to call it when nothing tells it apart. */
export interface OverlaySource {
  id: string;
  name: string;
  curves: RunCurves;
  /** Where the run comes from ("saved, step 3", "experiment"): said after its label when another run shown has the same one. */
  origin: string;
}

const STORES = new WeakMap<RunCurves, SeriesStore>();
const NO_OVERLAYS: RunOverlay[] = [];

/** A finished run's curves as the charts read a run (one store per curves object, built once). */
export function seriesOfCurves(curves: RunCurves): SeriesStore {
  let store = STORES.get(curves);
  if (store) return store;
  store = SeriesStore.fromColumns(curves.columns, curves.count, curves.changes);
  STORES.set(curves, store);
  return store;
}

/**
 * The saved runs to draw: those ticked whose curves have been read, but not the save of the run in
 * use (`currentRunKey`): its curves are the live run's own first steps, and drawn they would only
 * hide under them.
 */
export function savedOverlaySources(
  savedRuns: readonly SavedRun[],
  shown: ReadonlySet<string>,
  curves: Readonly<Record<string, RunCurves>>,
  currentRunKey: string | undefined,
): OverlaySource[] {
  return savedRuns
    .filter((r) => shown.has(r.runKey) && r.runKey !== currentRunKey && curves[r.id])
    .map((r) => ({ id: r.runKey, name: r.name ?? `saved run, step ${r.step}`, curves: curves[r.id], origin: `saved, step ${r.step}` }));
}

/**
 * The runs the charts draw beside the current one: the saved runs the user ticks (their curves read
 * from the Worker without their weights) and `extra` (an experiment's finished runs), each in its
 * own colour and named by what differs among all the runs shown, the current one included.
 */
export function useOverlays(training: Training, extra: readonly OverlaySource[]) {
  const { savedRuns, workerApi, setup, params, view } = training;
  /** Ticked saved runs, by run (a run's id changes with each of its saves; its key does not). */
  const [shown, setShown] = useState<ReadonlySet<string>>(() => new Set());
  const [curves, setCurves] = useState<Readonly<Record<string, RunCurves>>>({});
  const [error, setError] = useState<string | null>(null);
  const asked = useRef(new Set<string>());
  /** The saved run that is the run in use: never drawn beside itself. */
  const currentRunKey = view.status.runKey;

  // Read the curves of each ticked run's latest save, once per save.
  useEffect(() => {
    const api = workerApi();
    if (!api || !savedRuns) return;
    for (const run of savedRuns) {
      if (!shown.has(run.runKey) || run.runKey === currentRunKey || asked.current.has(run.id)) continue;
      asked.current.add(run.id);
      api.training.savedRunCurves(run.id).then(
        (c) => setCurves((all) => ({ ...all, [run.id]: c })),
        (e: unknown) => setError(`The saved run (step ${run.step}) cannot be drawn: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
  }, [workerApi, savedRuns, shown, currentRunKey]);

  const show = useCallback((run: SavedRun, on: boolean) => {
    setError(null);
    setShown((s) => {
      const next = new Set(s);
      if (on) next.add(run.runKey);
      else next.delete(run.runKey);
      return next;
    });
  }, []);

  // By value: the Worker's parameters arrive as a new object with every statistics batch, and new
  // overlays on every batch would redraw all the charts at once instead of one at a time.
  const currentKey = JSON.stringify({ ...setup, params: view.workerParams ?? params });
  const sources: OverlaySource[] = useMemo(() => [...savedOverlaySources(savedRuns ?? [], shown, curves, currentRunKey), ...extra], [savedRuns, shown, curves, currentRunKey, extra]);

  const { overlays, currentLabel } = useMemo(() => {
    if (sources.length === 0) return { overlays: NO_OVERLAYS, currentLabel: 'this run' };
    const current = JSON.parse(currentKey) as TrainingSetup;
    const labels = labelsByDifference([current, ...sources.map((s) => s.curves.setup)], (i) => (i === 0 ? 'this run' : sources[i - 1].name));
    // Among the overlays, not with the current run: its own lines are named "this run" anyway.
    const overlayLabels = tellApart(labels.slice(1), (i) => sources[i].origin);
    const list: RunOverlay[] = sources.map((s, i) => ({
      id: s.id,
      label: overlayLabels[i],
      colour: OVERLAY_COLOURS[i % OVERLAY_COLOURS.length],
      series: seriesOfCurves(s.curves),
      knn: s.curves.knn.map((k) => ({ x: k.step, y: k.accuracy })),
    }));
    return { overlays: list, currentLabel: labels[0] };
  }, [currentKey, sources]);

  return { overlays, currentLabel, shown, show, error };
}

export type Overlays = ReturnType<typeof useOverlays>;
