import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { SAMPLE_TRAIN_NAME } from '../data/cifarSample';
import { decodeRecording, parseRecordingIndex, RecordingError, type Recording, type RecordingIndex } from '../train/recording';
import type { KnnResult } from '../worker/evaluationTypes';
import type { HeldRun } from '../worker/training';
import { ringOfSlots, emptyQueue } from '../worker/queueSnapshot';
import type { LiveParams } from '../moco/config';
import { SAMPLE_FOLDER, STAT_FIELDS, type QueueSnapshot, type StatsBatch, type StepRecord } from '../worker/types';
import { SeriesStore, type Point } from './series';
import type { Training } from './useTraining';

/** Replay speeds, as multiples of the recorded pace. */
export const REPLAY_SPEEDS = [1, 2, 5, 10, 20, 50, 100] as const;
/** The shipped recordings' index, beside the page. */
export const REPLAY_INDEX = 'replay/index.json';
/** The replay's statistics are one run of its own store. */
const REPLAY_RUN = 1;
const TICK_MS = 100;

/** Where the final model is: in the recording only, being loaded into the Worker, loaded (its Evaluation panel explores it), or not loadable. */
export type FinalModel = { state: 'recording' } | { state: 'loading'; what: string } | { state: 'loaded'; step: number } | { state: 'failed'; message: string };

export interface ReplayShown {
  recording: Recording;
  store: SeriesStore;
  version: number;
  /** Recorded milliseconds played so far, and the recording's length in them. */
  position: number;
  length: number;
  playing: boolean;
  speed: number;
  /** Steps shown so far. */
  shownSteps: number;
  /** The kNN and probe results known at the position played (the charts' kNN, the probe line). */
  knn: KnnResult[];
  knnPoints: readonly Point[];
  probes: Point[];
  /** The diagram's inputs at the position played. */
  last: StepRecord | null;
  queue: QueueSnapshot | null;
  final: FinalModel;
}

/**
 * The classroom replay: a recorded run (src/train/recording.ts) played through the same charts,
 * diagram and kNN chart as live training, at a chosen multiple of its recorded pace; at its end (or
 * on demand) its final checkpoint is resumed in the Worker, so that the Evaluation panel explores
 * the recorded model. The run in use is held aside meanwhile (paused, saved) and the training
 * controls wait; leaving puts it back as it was.
 */
export function useReplay(training: Training) {
  const { workerApi, setBusy, adoptRun, view } = training;
  const [shipped, setShipped] = useState<RecordingIndex['recordings']>([]);
  const [opening, setOpening] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<Omit<ReplayShown, 'knn' | 'knnPoints' | 'probes' | 'last' | 'queue' | 'shownSteps'> | null>(null);
  /** Steps already fed to the replay's store. */
  const fed = useRef(0);
  const held = useRef<HeldRun | null>(null);

  // The shipped recordings; none (no index, an empty one) shows no list.
  useEffect(() => {
    let current = true;
    fetch(new URL(`${import.meta.env.BASE_URL}${REPLAY_INDEX}`, location.href))
      .then((r) => (r.ok && !/text\/html/i.test(r.headers.get('content-type') ?? '') ? r.text() : ''))
      .then((text) => current && setShipped(parseRecordingIndex(text)), () => {});
    return () => {
      current = false;
    };
  }, []);

  const open = useCallback(
    async (read: () => Promise<Uint8Array>, name: string) => {
      const api = workerApi();
      if (!api || shown) return;
      setError(null);
      setOpening(name);
      try {
        const recording = decodeRecording(await read(), name);
        // The run in use waits, paused and saved, until the replay is left.
        setBusy('A classroom replay is shown: the controls wait until you leave it (your run is paused and kept).');
        held.current = await api.training.holdRun();
        fed.current = 0;
        const store = new SeriesStore();
        const { columns } = recording;
        const length = Math.max(columns.elapsedMs[columns.elapsedMs.length - 1], ...recording.manifest.knn.map((k) => k.elapsedMs), ...recording.manifest.probes.map((p) => p.elapsedMs));
        setShown({ recording, store, version: 0, position: 0, length, playing: true, speed: defaultSpeed(length), final: { state: 'recording' } });
      } catch (e) {
        setBusy(null);
        setError(e instanceof RecordingError ? e.message : `${name}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        setOpening(null);
      }
    },
    [workerApi, shown, setBusy],
  );

  const openUrl = useCallback(
    (url: string) => {
      const absolute = new URL(url, location.href).href;
      return open(async () => {
        let response: Response;
        try {
          response = await fetch(absolute);
        } catch (e) {
          throw new RecordingError(absolute, `could not be fetched (${e instanceof Error ? e.message : String(e)}): check the address; the app reads recordings from its own site`);
        }
        if (!response.ok) throw new RecordingError(absolute, `could not be fetched (HTTP ${response.status}): check the address`);
        return new Uint8Array(await response.arrayBuffer());
      }, url);
    },
    [open],
  );
  const openFile = useCallback((file: File) => open(async () => new Uint8Array(await file.arrayBuffer()), file.name), [open]);

  // `?replay=URL`: open that recording once the Worker is ready (tests, and teachers hosting their own).
  const linkOpened = useRef(false);
  useEffect(() => {
    const url = new URLSearchParams(location.search).get('replay');
    if (!url || linkOpened.current || view.phase !== 'ready' || !view.model) return;
    linkOpened.current = true;
    void openUrl(url);
  }, [view.phase, view.model, openUrl]);

  // Playing: the position advances at `speed` times the recorded pace; the store gets the steps reached.
  const playing = shown?.playing ?? false;
  useEffect(() => {
    if (!playing) return;
    let before = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const dt = now - before;
      before = now;
      setShown((s) => {
        if (!s) return s;
        const position = Math.min(s.length, s.position + dt * s.speed);
        return { ...s, position, playing: position < s.length };
      });
    }, TICK_MS);
    return () => clearInterval(timer);
  }, [playing]);

  // Feeds the steps up to the position (a position moved back starts the store again).
  const position = shown?.position ?? 0;
  const recording = shown?.recording;
  const store = shown?.store;
  useEffect(() => {
    if (!recording || !store) return;
    const elapsed = recording.columns.elapsedMs;
    let to = fed.current;
    if (to > 0 && elapsed[to - 1] > position) {
      store.clear(REPLAY_RUN);
      to = 0;
    }
    const from = to;
    while (to < elapsed.length && elapsed[to] <= position) to++;
    fed.current = to;
    if (to === from && store.runId === REPLAY_RUN) return;
    store.append(replayBatch(recording, from, to, position));
    setShown((s) => s && { ...s, version: store.version });
  }, [recording, store, position]);

  const setPlaying = useCallback((on: boolean) => setShown((s) => s && { ...s, playing: on && s.position < s.length }), []);
  const setSpeed = useCallback((speed: number) => setShown((s) => s && { ...s, speed }), []);
  const jumpToEnd = useCallback(() => setShown((s) => s && { ...s, position: s.length, playing: false }), []);
  const restart = useCallback(() => setShown((s) => s && { ...s, position: 0, playing: true }), []);

  /** The recording's final checkpoint, resumed in the Worker (on the CIFAR-10 sample, read first if needed): the Evaluation panel explores it. */
  const loadFinal = useCallback(async () => {
    const api = workerApi();
    if (!api || !recording) return;
    const setFinal = (final: FinalModel) => setShown((s) => s && { ...s, final });
    try {
      if (recording.manifest.setup.dataset.name === SAMPLE_TRAIN_NAME && (await api.training.datasetInfo())?.source !== 'sample') {
        setFinal({ state: 'loading', what: 'Reading the CIFAR-10 sample the run trained on…' });
        await api.training.loadDataset({ kind: 'sample', url: new URL(`${import.meta.env.BASE_URL}${SAMPLE_FOLDER}`, location.href).href });
      }
      setFinal({ state: 'loading', what: 'Loading the final model into the worker…' });
      const model = await api.training.resume(recording.checkpoint, `the final model of ${recording.file}`);
      const setup = await api.training.currentSetup();
      if (setup) adoptRun(model, setup);
      setFinal({ state: 'loaded', step: recording.manifest.checkpoint.step });
    } catch (e) {
      setFinal({ state: 'failed', message: e instanceof Error ? e.message : String(e) });
    }
  }, [workerApi, recording, adoptRun]);

  // At the end of the replay the final model is loaded by itself.
  const atEnd = shown !== null && shown.position >= shown.length && shown.final.state === 'recording';
  useEffect(() => {
    if (atEnd) void loadFinal();
  }, [atEnd, loadFinal]);

  /** Back to normal: the run held aside comes back as it was, and the controls are free again. */
  const leave = useCallback(async () => {
    const api = workerApi();
    setShown(null);
    const run = held.current;
    held.current = null;
    try {
      if (api && run) {
        const model = await api.training.restoreRun(run);
        const setup = await api.training.currentSetup();
        if (setup) adoptRun(model, setup);
      }
    } catch (e) {
      setError(`Your run could not be put back (${e instanceof Error ? e.message : String(e)}); it was saved when the replay began: Resume it under Saved runs.`);
    } finally {
      setBusy(null);
    }
  }, [workerApi, adoptRun, setBusy]);

  const derived = useMemo(() => (shown ? derive(shown) : null), [shown]);
  /** Something else drives the Worker (an experiment, a load): a replay waits for it. */
  const blocked = !shown && (view.busy !== null || view.phase !== 'ready' || !view.model);
  return { shipped, opening, error, blocked, shown: shown && derived ? { ...shown, ...derived } : null, openUrl, openFile, setPlaying, setSpeed, jumpToEnd, restart, loadFinal, leave };
}

export type Replay = ReturnType<typeof useReplay>;

/** A speed that plays the recording in about a minute, from the speeds offered. */
function defaultSpeed(lengthMs: number): number {
  return REPLAY_SPEEDS.find((s) => lengthMs / s <= 60_000) ?? REPLAY_SPEEDS[REPLAY_SPEEDS.length - 1];
}

/** What the position played shows: the steps fed, the evaluations known by then, the diagram's state. */
function derive(s: Omit<ReplayShown, 'knn' | 'knnPoints' | 'probes' | 'last' | 'queue' | 'shownSteps'>) {
  const { recording, store, position } = s;
  const m = recording.manifest;
  const output = m.knn[0]?.output;
  const knn: KnnResult[] = m.knn
    .filter((k) => k.output === output && k.elapsedMs <= position)
    .map((k) => ({
      runId: REPLAY_RUN,
      step: k.step,
      accuracy: k.accuracy,
      perClass: k.perClass.map((a) => ({ correct: 0, total: 0, accuracy: a ?? Number.NaN })),
      classNames: m.classNames,
      k: k.k,
      t: 0.1,
      bankSize: k.bankSize,
      queryCount: k.queryCount,
      seconds: k.seconds,
      trigger: 'monitor' as const,
    }));
  const probes = m.probes.filter((p) => p.elapsedMs <= position).map((p) => ({ x: p.step, y: p.accuracy }));
  const last = store.last();
  const batchSize = m.setup.batchSize;
  return {
    shownSteps: store.length,
    knn,
    knnPoints: knn.map((k) => ({ x: k.step, y: k.accuracy })),
    probes,
    last,
    queue: last ? queueOf(last, batchSize) : null,
  };
}

/** Steps `[from, to)` as the Worker would have sent them, with the markers of changes among them. */
function replayBatch(recording: Recording, from: number, to: number, position: number): StatsBatch {
  const { columns, manifest } = recording;
  const count = to - from;
  const batchColumns = Object.fromEntries(STAT_FIELDS.map((f) => [f, columns[f].slice(from, to)])) as StatsBatch['columns'];
  const i = Math.max(0, to - 1);
  const firstStep = from < columns.step.length ? columns.step[from] : Infinity;
  const lastStep = columns.step[i];
  const params: LiveParams = { momentum: columns.momentum[i], queueSize: columns.queueCapacity[i], temperature: columns.temperature[i], learningRate: columns.learningRate[i] };
  const atEnd = to === columns.step.length;
  return {
    status: { state: atEnd ? 'finished' : 'running', runId: REPLAY_RUN, step: to > 0 ? lastStep : 0, elapsedMs: position, stepBudget: manifest.setup.steps, error: null },
    count,
    columns: batchColumns,
    paramChanges: count > 0 ? manifest.changes.filter((c) => c.fromStep >= firstStep && c.fromStep <= lastStep).map((c) => ({ runId: REPLAY_RUN, ...c })) : [],
    queue: to > 0 ? queueOf(recordAt(recording, i), manifest.setup.batchSize) : emptyQueue(columns.queueCapacity[0]),
    params,
  };
}

function recordAt(recording: Recording, i: number): StepRecord {
  return Object.fromEntries(STAT_FIELDS.map((f) => [f, recording.columns[f][i]])) as StepRecord;
}

/**
 * The queue after a recorded step, as the diagram draws it: each step wrote one batch of keys into
 * the next slots (from slot 0, wrapping once full), so the step that wrote each slot follows from
 * the step number alone.
 */
export function queueOf(r: StepRecord, batchSize: number): QueueSnapshot {
  const capacity = r.queueCapacity;
  const written = r.step * batchSize;
  const slots = new Int32Array(capacity);
  for (let i = 0; i < capacity; i++) {
    // The last key written to slot i, counting keys from 0.
    const key = written > i ? i + capacity * Math.floor((written - 1 - i) / capacity) : -1;
    slots[i] = key < 0 ? -1 : Math.floor(key / batchSize) + 1;
  }
  return ringOfSlots(slots, r.queueFilled);
}
