import { useCallback, useEffect, useRef, useState } from 'react';
import { SAMPLE_TRAIN_NAME } from '../data/cifarSample';
import { decodeRecording, parseRecordingIndex, RecordingError, type Recording, type RecordingIndex } from '../train/recording';
import type { KnnResult } from '../worker/evaluationTypes';
import type { HeldRun, TrainingService } from '../worker/training';
import { ringOfSlots } from '../worker/queueSnapshot';
import { SAMPLE_FOLDER, type ModelInfo, type QueueSnapshot, type StepRecord, type TrainingSetup } from '../worker/types';
import { SeriesStore, type Point } from './series';
import type { Training } from './useTraining';

/** Replay speeds, as multiples of the recorded pace. */
export const REPLAY_SPEEDS = [1, 2, 5, 10, 20, 50, 100] as const;
/** The shipped recordings' index, beside the page. */
export const REPLAY_INDEX = 'replay/index.json';
/** The replay's statistics are one run of its own store. */
const REPLAY_RUN = 1;
const TICK_MS = 100;
/** What the replay reads the CIFAR-10 sample for, as a load of the user's that it replaces names it. */
export const REPLAY_LOAD = "the classroom replay's final model";

/** Where the final model is: in the recording only, being loaded into the Worker, loaded (its Evaluation panel explores it), or not loadable. */
export type FinalModel = { state: 'recording' } | { state: 'loading'; what: string } | { state: 'loaded'; step: number } | { state: 'failed'; message: string };

export interface ReplayShown {
  recording: Recording;
  /** Where the recording was fetched from (a link can open it again), or null for a file opened here. */
  url: string | null;
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
 * The note the training controls show while a replay is shown, for the run held aside at `step`: a
 * run with no step has nothing to keep or save, and comes back as a fresh model of its setup.
 */
export function replayBusyNote(step: number): string {
  const run = step > 0 ? 'your run is paused and kept' : 'your run had no step yet: it comes back as a fresh model of the same setup';
  return `A classroom replay is shown: the controls wait until you leave it (${run}).`;
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
  /** The shipped recordings; null until the index has been asked for. */
  const [shipped, setShipped] = useState<RecordingIndex['recordings'] | null>(null);
  const [opening, setOpening] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<ReplayShown | null>(null);
  /** Where the replay is: its store fed up to the position, and what is known there. */
  const head = useRef<ReplayPlayhead | null>(null);
  /** The speed the clock plays at (as `shown.speed`, for the timer). */
  const speed = useRef(1);
  const held = useRef<HeldRun | null>(null);

  // The shipped recordings; none (no index, an empty one) shows no list.
  useEffect(() => {
    let current = true;
    fetch(new URL(`${import.meta.env.BASE_URL}${REPLAY_INDEX}`, location.href))
      .then((r) => (r.ok && !/text\/html/i.test(r.headers.get('content-type') ?? '') ? r.text() : ''))
      .then(
        (text) => current && setShipped(parseRecordingIndex(text)),
        () => current && setShipped([]),
      );
    return () => {
      current = false;
    };
  }, []);

  const open = useCallback(
    async (read: () => Promise<Uint8Array>, name: string, url: string | null) => {
      const api = workerApi();
      if (!api || shown) return;
      setError(null);
      setOpening(name);
      try {
        const recording = decodeRecording(await read(), name);
        // Everything that can refuse the recording comes before the run is held: a refusal then leaves the run as it was.
        const playhead = new ReplayPlayhead(recording);
        // The run in use waits, paused and saved, until the replay is left.
        setBusy(replayBusyNote(view.status.step));
        held.current = await api.training.holdRun();
        // The step held may have moved on since the note was written (a step in flight when the run was paused).
        setBusy(replayBusyNote(held.current.step));
        head.current = playhead;
        speed.current = defaultSpeed(playhead.length);
        setShown({ recording, url, store: playhead.store, length: playhead.length, playing: true, speed: speed.current, final: { state: 'recording' }, ...playhead.moveTo(0) });
      } catch (e) {
        setBusy(null);
        setError(e instanceof RecordingError ? e.message : `${name}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        setOpening(null);
      }
    },
    [workerApi, shown, setBusy, view.status.step],
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
      }, url, absolute);
    },
    [open],
  );
  const openFile = useCallback((file: File) => open(async () => new Uint8Array(await file.arrayBuffer()), file.name, null), [open]);

  // `?replay=URL`: open that recording once the Worker is ready (tests, and teachers hosting their own).
  const linkOpened = useRef(false);
  useEffect(() => {
    const url = new URLSearchParams(location.search).get('replay');
    if (!url || linkOpened.current || view.phase !== 'ready' || !view.model) return;
    linkOpened.current = true;
    void openUrl(url);
  }, [view.phase, view.model, openUrl]);

  /**
   * Moves the replay to `position` (and plays or stops it): the store gets the steps reached, and
   * the page one state change, so one render, per move.
   */
  const seek = useCallback((position: number, play?: boolean) => {
    const playhead = head.current;
    if (!playhead) return;
    const at = playhead.moveTo(position);
    setShown((s) => s && { ...s, ...at, playing: (play ?? s.playing) && at.position < s.length });
  }, []);

  // Playing: the position advances at `speed` times the recorded pace, one move per tick.
  const playing = shown?.playing ?? false;
  useEffect(() => {
    if (!playing) return;
    let before = performance.now();
    const timer = setInterval(() => {
      const playhead = head.current;
      if (!playhead) return;
      const now = performance.now();
      const dt = now - before;
      before = now;
      seek(Math.min(playhead.length, playhead.position + dt * speed.current));
    }, TICK_MS);
    return () => clearInterval(timer);
  }, [playing, seek]);

  const setPlaying = useCallback((on: boolean) => setShown((s) => s && { ...s, playing: on && s.position < s.length }), []);
  const setSpeed = useCallback((value: number) => {
    speed.current = value;
    setShown((s) => s && { ...s, speed: value });
  }, []);
  const jumpToEnd = useCallback(() => seek(head.current?.length ?? 0, false), [seek]);
  /** Back or forward to the moment `shown` recorded steps had been taken (a teacher's scrub); plays on if it played. */
  const seekToSteps = useCallback(
    (shown: number) => {
      const playhead = head.current;
      if (playhead) seek(positionOfSteps(playhead.recording.columns.elapsedMs, playhead.length, shown));
    },
    [seek],
  );
  const restart = useCallback(() => seek(0, true), [seek]);
  const recording = shown?.recording;

  /** The recording's final checkpoint, resumed in the Worker (on the CIFAR-10 sample, read first if needed): the Evaluation panel explores it. */
  const loadFinal = useCallback(async () => {
    const api = workerApi();
    if (!api || !recording) return;
    const setFinal = (final: FinalModel) => setShown((s) => s && { ...s, final });
    // Left meanwhile: the run held aside is back (the Worker put it back after the sample's read), and the final model must not replace it.
    const playhead = head.current;
    const left = () => head.current !== playhead;
    const sampleUrl = new URL(`${import.meta.env.BASE_URL}${SAMPLE_FOLDER}`, location.href).href;
    await loadFinalModel(api.training, recording, sampleUrl, { left, say: setFinal, adopt: adoptRun });
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
    head.current = null;
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

  /** Something else drives the Worker (an experiment, a load): a replay waits for it. */
  const blocked = !shown && (view.busy !== null || view.phase !== 'ready' || !view.model);
  return { shipped, opening, error, blocked, shown, openUrl, openFile, setPlaying, setSpeed, jumpToEnd, seekToSteps, restart, loadFinal, leave };
}

export type Replay = ReturnType<typeof useReplay>;

/** What `loadFinalModel` asks of the Worker's training service (the page's bridge to it, or the service itself in tests). */
type FinalModelWorker = Pick<TrainingService, 'datasetInfo' | 'loadDataset' | 'resume' | 'currentSetup'>;

/**
 * The recording's final checkpoint resumed in the Worker, on the CIFAR-10 sample (read first from
 * `sampleUrl` unless it is the data loaded); `say` hears each stage, `adopt` the run resumed. Given
 * up as soon as `left()`: the replay was left and the run held aside is being put back, which a
 * sample read or a resume asked after that would replace (`restoreRun` waits only for those asked
 * before it).
 */
export async function loadFinalModel(
  worker: FinalModelWorker,
  recording: Recording,
  sampleUrl: string,
  on: { left: () => boolean; say: (final: FinalModel) => void; adopt: (model: ModelInfo, setup: TrainingSetup) => void },
): Promise<void> {
  const { left, say } = on;
  // Said before the first await: the page draws it at once (Explore's click, the end reached), so
  // that a second click or the end's own call finds it loading and Leave waits for it.
  say({ state: 'loading', what: 'Loading the final model into the worker…' });
  try {
    const readSample = recording.manifest.setup.dataset.name === SAMPLE_TRAIN_NAME && (await worker.datasetInfo())?.source !== 'sample';
    if (readSample) {
      if (left()) return;
      say({ state: 'loading', what: 'Reading the CIFAR-10 sample the run trained on…' });
      // The Worker holds one loaded dataset for training: the sample replaces the user's files (their
      // run held aside keeps them, and has them back on leaving). A load of theirs still being read
      // when the replay opened ended before the run was held (holdRun); one replaced all the same is
      // not dropped silently: it rejects naming the replay, and the Data panel says so with the way back.
      await worker.loadDataset({ kind: 'sample', url: sampleUrl }, undefined, { chosenBy: REPLAY_LOAD });
    }
    if (left()) return;
    if (readSample) say({ state: 'loading', what: 'Loading the final model into the worker…' });
    const model = await worker.resume(recording.checkpoint, `the final model of ${recording.file}`);
    if (left()) return;
    const setup = await worker.currentSetup();
    if (setup) on.adopt(model, setup);
    say({ state: 'loaded', step: recording.manifest.checkpoint.step });
  } catch (e) {
    say({ state: 'failed', message: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * A link that opens the app on the recording at `url` (a student follows the class on a phone):
 * the page's address with `?replay=`, the recording's path when it is on the app's own site (the
 * only one the built app may fetch from).
 */
export function replayLink(url: string, page: string): string {
  const at = new URL(page);
  const recording = new URL(url, page);
  const q = new URLSearchParams({ replay: recording.origin === at.origin ? `${recording.pathname}${recording.search}` : recording.href });
  return `${at.origin}${at.pathname}?${q.toString()}`;
}

/**
 * The recorded time at which `shown` steps had been taken: 0 before the first, the end of the
 * recording (its last evaluations included) for all of them.
 */
export function positionOfSteps(elapsedMs: ArrayLike<number>, length: number, shown: number): number {
  if (shown <= 0) return 0;
  if (shown >= elapsedMs.length) return length;
  return elapsedMs[shown - 1];
}

/** A speed that plays the recording in about a minute, from the speeds offered. */
function defaultSpeed(lengthMs: number): number {
  return REPLAY_SPEEDS.find((s) => lengthMs / s <= 60_000) ?? REPLAY_SPEEDS[REPLAY_SPEEDS.length - 1];
}

/** What the replay shows at a position: the steps fed, the evaluations known by then, the diagram's state. */
export type PlayedAt = Pick<ReplayShown, 'position' | 'version' | 'shownSteps' | 'knn' | 'knnPoints' | 'probes' | 'last' | 'queue'>;

/**
 * A recording played up to a position: its store holds the steps recorded by then, and each move
 * derives only what changed (steps passed: the last step and the queue; an evaluation passed: its
 * list); what did not change is the same object as before, so what draws it need not redraw.
 */
export class ReplayPlayhead {
  readonly store = new SeriesStore();
  /** The recording's length in recorded milliseconds: its last step or evaluation. */
  readonly length: number;
  position = 0;
  /** The kNN results and probe points in recorded order, and when each was recorded. */
  private readonly knnAll: readonly KnnResult[];
  private readonly knnTimes: readonly number[];
  private readonly probesAll: readonly Point[];
  private readonly probeTimes: readonly number[];
  /** Steps fed to the store. */
  private fed = 0;
  private at: PlayedAt;

  constructor(readonly recording: Recording) {
    const m = recording.manifest;
    const { elapsedMs } = recording.columns;
    this.length = Math.max(elapsedMs[elapsedMs.length - 1], ...m.knn.map((k) => k.elapsedMs), ...m.probes.map((p) => p.elapsedMs));
    // The kNN chart draws one output: the first recorded.
    const output = m.knn[0]?.output;
    const byTime = <T extends { elapsedMs: number }>(a: T, b: T) => a.elapsedMs - b.elapsedMs;
    const knn = m.knn.filter((k) => k.output === output).sort(byTime);
    this.knnTimes = knn.map((k) => k.elapsedMs);
    this.knnAll = knn.map((k) => ({
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
    const probes = [...m.probes].sort(byTime);
    this.probeTimes = probes.map((p) => p.elapsedMs);
    this.probesAll = probes.map((p) => ({ x: p.step, y: p.accuracy }));
    this.at = { position: 0, version: this.store.version, shownSteps: 0, knn: [], knnPoints: [], probes: [], last: null, queue: null };
  }

  /** Moves to `position` (a position moved back starts the store again) and says what is shown there. */
  moveTo(position: number): PlayedAt {
    const { store } = this;
    const { columns, manifest } = this.recording;
    const elapsed = columns.elapsedMs;
    this.position = position;
    let from = this.fed;
    const back = from > 0 && elapsed[from - 1] > position;
    if (back) {
      store.clear(REPLAY_RUN);
      from = 0;
    }
    let to = from;
    while (to < elapsed.length && elapsed[to] <= position) to++;
    this.fed = to;
    let { last, queue, knn, knnPoints, probes } = this.at;
    if (to !== from || back || store.runId !== REPLAY_RUN) {
      const firstStep = from < to ? columns.step[from] : Infinity;
      const lastStep = to > 0 ? columns.step[to - 1] : -Infinity;
      const changes = manifest.changes.filter((c) => c.fromStep >= firstStep && c.fromStep <= lastStep).map((c) => ({ runId: REPLAY_RUN, ...c }));
      store.appendColumns(REPLAY_RUN, columns, from, to, changes);
      last = store.last();
      queue = last ? queueOf(last, manifest.setup.batchSize) : null;
    }
    const knnCount = known(this.knnTimes, position, knn.length);
    if (knnCount !== knn.length) {
      knn = this.knnAll.slice(0, knnCount);
      knnPoints = knn.map((k) => ({ x: k.step, y: k.accuracy }));
    }
    const probeCount = known(this.probeTimes, position, probes.length);
    if (probeCount !== probes.length) probes = this.probesAll.slice(0, probeCount);
    this.at = { position, version: store.version, shownSteps: store.length, knn, knnPoints, probes, last, queue };
    return this.at;
  }
}

/**
 * What the recorded run was doing at `position` (recorded ms) if not training: an evaluation, which
 * the run took between steps (kNN and probe each take seconds; at 1× the charts stand still for
 * them), said beside the replay's progress so that a still chart does not look stuck. Null while
 * it trained.
 */
export function recordedEvaluation(manifest: Recording['manifest'], position: number): string | null {
  const during = (e: { elapsedMs: number; seconds: number }) => position >= e.elapsedMs - e.seconds * 1000 && position < e.elapsedMs;
  const knn = manifest.knn.find(during);
  if (knn) return `scoring kNN at step ${knn.step}${knn.step === 0 ? ' (the untrained network)' : ''}: no training meanwhile`;
  const probe = manifest.probes.find(during);
  if (probe) return `training the linear probe at step ${probe.step}: no training meanwhile`;
  return null;
}

/** How many of `times` (in increasing order) are at or before `position`, counting on from `before` (those known at the last position). */
function known(times: readonly number[], position: number, before: number): number {
  let n = Math.min(before, times.length);
  while (n > 0 && times[n - 1] > position) n--;
  while (n < times.length && times[n] <= position) n++;
  return n;
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
