import { useCallback, useEffect, useRef, useState } from 'react';
import type { LiveParams } from '../moco/config';
import { startTraining, type TrainingBridge } from '../worker/bridge';
import { BACKEND_LABELS, type BackendInfo, type BackendName, type DatasetName, type DeviceRecovery, type ModelInfo, type QueueSnapshot, type RunStatus, type SavedRun, type StatsBatch, type TrainingSetup } from '../worker/types';
import { saveBlob, saveBundle } from './download';
import { defaultLearningRate, queueSizes } from './scales';
import { dismissWarning, NONE_DISMISSED, shownWarnings, type WarningKeys } from './runWarnings';
import { decodeSetupLink, encodeSetupLink, isSetupLink } from './shareLink';
import { SeriesStore } from './series';

export type SetupForm = Omit<TrainingSetup, 'params'>;

export interface TrainingView {
  phase: 'starting' | 'ready' | 'failed';
  backend: BackendInfo | null;
  model: ModelInfo | null;
  status: RunStatus;
  /** performance.now() when `status` arrived (the elapsed time goes on from there while running). */
  statusAt: number;
  /** The live parameters the Worker runs with (as it last reported them). */
  workerParams: LiveParams | null;
  queue: QueueSnapshot | null;
  /** A call in progress that blocks others: configuring, exporting. */
  busy: string | null;
  error: string | null;
}

const IDLE_STATUS: RunStatus = { state: 'idle', runId: 0, step: 0, elapsedMs: 0, stepBudget: 0, error: null };

/** What a real GPU trains comfortably: ResNet-8 at batch 128. */
const GPU_SETUP: SetupForm = { version: 'v2', preset: 'resnet8', batchSize: 128, dataset: 'synthetic', datasetSize: 5000, stepBudget: 0, seed: 1 };
/** Software rendering (SwiftShader), WebGL or the CPU: the tiny network at a small batch. */
const SOFTWARE_SETUP: SetupForm = { ...GPU_SETUP, preset: 'tiny', batchSize: 16, datasetSize: 2000 };

export function defaultSetup(backend: BackendInfo): SetupForm {
  const software = backend.backend !== 'webgpu' || /swiftshader/i.test(backend.adapter ?? '');
  return software ? SOFTWARE_SETUP : GPU_SETUP;
}

export function defaultParams(setup: SetupForm): LiveParams {
  return { momentum: 0.99, queueSize: 4096, temperature: setup.version === 'v2' ? 0.2 : 0.07, learningRate: defaultLearningRate(setup.batchSize) };
}

/** Parameters carried over to a new setup: the queue stays at least one batch, a default rate follows the batch size. */
function paramsForSetup(params: LiveParams, from: SetupForm, to: SetupForm): LiveParams {
  const next = { ...params };
  if (params.learningRate === defaultLearningRate(from.batchSize)) next.learningRate = defaultLearningRate(to.batchSize);
  if (from.version !== to.version && params.temperature === defaultParams(from).temperature) next.temperature = defaultParams(to).temperature;
  if (!queueSizes(to.batchSize).includes(next.queueSize)) next.queueSize = queueSizes(to.batchSize).find((k) => k >= next.queueSize) ?? queueSizes(to.batchSize)[0];
  return next;
}

/** The page asks the Worker this often whether it is alive (a cheap call, answered outside the model's lock). */
const HEARTBEAT_MS = 3_000;
/** No answer for this long while idle means the Worker is gone or stuck… */
const IDLE_TIMEOUT_MS = 10_000;
/** …and for this long while a step, an evaluation or another call runs (a slow step on the CPU blocks its thread). */
const BUSY_TIMEOUT_MS = 120_000;

/** The training Worker ended or stopped answering; `restart()` brings up a new one. */
export interface WorkerLoss {
  /** What happened, in words. */
  reason: string;
  /**
   * true: the Worker is gone (it crashed and was ended). false: it has not answered for a while —
   * stuck, or in a long computation — and is left alone: if it answers again, this goes away.
   */
  ended: boolean;
  /** The step the run had reached. */
  step: number;
  /** The run's last save (the Worker saves by itself), which a restart resumes; null: none. */
  saved: { step: number; savedAt: number } | null;
}

/** What the controls say while the Worker recovers from a lost GPU device by itself. */
const RECOVERING = 'Recovering from the lost GPU device…';
/** Busy while a setup change rebuilds the model: the setup menus stay free meanwhile (the last choice wins). */
export const BUILDING = 'Building the dataset and the model…';

/** How long a slider must rest before its value goes to the Worker (one chart marker per gesture). */
const PARAM_DEBOUNCE_MS = 250;

function urlBackends(): BackendName[] | undefined {
  const value = new URLSearchParams(location.search).get('backend');
  if (!value) return undefined;
  const names = value.split(',').filter((b): b is BackendName => b in BACKEND_LABELS);
  return names.length ? names : undefined;
}

/** `?autosave=SECONDS`: how often the run saves itself (for measuring a save's cost; default 30 s). */
function urlAutosaveMs(): number | undefined {
  const value = new URLSearchParams(location.search).get('autosave');
  const seconds = value === null ? Number.NaN : Number(value);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

declare global {
  interface Window {
    /** With `?testHooks`: the bridge and the statistics, for end-to-end tests and the console. */
    __moco?: { bridge: TrainingBridge; store: SeriesStore; inject: (batch: StatsBatch) => void; killWorker: () => void };
  }
}

/** The page's side of training: the Worker bridge, the statistics store and the controls' state. */
export function useTraining() {
  const [store] = useState(() => new SeriesStore());
  const [version, setVersion] = useState(0);
  const [view, setView] = useState<TrainingView>({
    phase: 'starting',
    backend: null,
    model: null,
    status: IDLE_STATUS,
    statusAt: 0,
    workerParams: null,
    queue: null,
    busy: 'Starting the training worker…',
    error: null,
  });
  const [setup, setSetupState] = useState<SetupForm>(SOFTWARE_SETUP);
  const [params, setParamsState] = useState<LiveParams>(() => defaultParams(SOFTWARE_SETUP));
  /** The setup the current model was built with. */
  const [builtSetup, setBuiltSetup] = useState<SetupForm | null>(null);
  const bridge = useRef<TrainingBridge | null>(null);
  /** The page was opened from a shared link that asks for the CIFAR-10 sample (the Data panel reads it once the model is built). */
  const [sampleFromLink, setSampleFromLink] = useState(false);
  /** Runs saved in the browser (the Worker saves them by itself), the latest first; null until read. */
  const [savedRuns, setSavedRuns] = useState<SavedRun[] | null>(null);
  /** The Worker ended or hangs: what the page says, and what Restart resumes. */
  const [workerLoss, setWorkerLoss] = useState<WorkerLoss | null>(null);
  /** What a recovery did (a restart, a restore), said once under the status. */
  const [notice, setNotice] = useState<string | null>(null);
  /** The Worker's latest recovery from a lost GPU device, said until dismissed; the last one the page took in. */
  const [recovered, setRecovered] = useState<DeviceRecovery | null>(null);
  const recoverySeen = useRef(0);
  /** The run's warnings (a blown-up loss, GPU errors) the user dismissed. */
  const [dismissedWarnings, setDismissedWarnings] = useState<WarningKeys>(NONE_DISMISSED);
  /** Counts the Workers started: panels that subscribe to one subscribe again to the next. */
  const [generation, setGeneration] = useState(0);
  const pendingParams = useRef<Partial<LiveParams>>({});
  const paramTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const fail = useCallback((e: unknown) => {
    setView((v) => ({ ...v, busy: null, error: e instanceof Error ? e.message : String(e) }));
  }, []);

  const onStats = useCallback(
    (batch: StatsBatch) => {
      store.append(batch);
      setVersion(store.version);
      // A lost GPU device: the controls wait while the Worker recovers; then the backend is the new one, said once.
      const recovery = batch.status.deviceRecovery ?? null;
      const done = recovery?.phase === 'done' && recovery.id > recoverySeen.current ? recovery : null;
      if (done) {
        recoverySeen.current = done.id;
        setRecovered(done);
        setNotice(null);
      }
      setView((v) => {
        if (batch.status.runId < v.status.runId) return v;
        const busy = recovery?.phase === 'recovering' ? RECOVERING : v.busy === RECOVERING ? null : v.busy;
        return { ...v, status: batch.status, statusAt: performance.now(), workerParams: batch.params, queue: batch.queue, busy, backend: done?.backend ?? v.backend };
      });
    },
    [store],
  );

  const configure = useCallback(
    async (form: SetupForm, live: LiveParams) => {
      const api = bridge.current?.api.training;
      if (!api) return;
      setView((v) => ({ ...v, busy: BUILDING, error: null }));
      try {
        const model = await api.configure({ ...form, params: live });
        setBuiltSetup(form);
        setView((v) => ({ ...v, model, busy: null }));
      } catch (e) {
        fail(e);
      }
    },
    [fail],
  );

  // Start the Worker once; end it with the page.
  useEffect(() => {
    let cancelled = false;
    let started: TrainingBridge | null = null;
    startTraining(onStats, { backends: urlBackends(), autosaveEveryMs: urlAutosaveMs(), testHooks: hasTestHooks() }).then(
      async (b) => {
        if (cancelled) return b.terminate();
        started = b;
        bridge.current = b;
        installTestHooks(b, store, onStats);
        // A shared link's setup and parameters, ready to start (never started by itself).
        const link = isSetupLink(location.search) ? decodeSetupLink(location.search, defaultSetup(b.backend), defaultParams) : null;
        const form = link?.setup ?? defaultSetup(b.backend);
        const live = link?.params ?? defaultParams(form);
        setSampleFromLink(link?.sample ?? false);
        setSetupState(form);
        setParamsState(live);
        setView((v) => ({ ...v, phase: 'ready', backend: b.backend }));
        await configure(form, live);
        const ignored = link?.ignored ?? [];
        if (ignored.length > 0) setView((v) => (v.error ? v : { ...v, error: `Not all of the link could be used; left at the defaults: ${ignored.join('; ')}` }));
        setSavedRuns(await b.api.training.savedRuns());
      },
      (e: unknown) => {
        if (!cancelled) setView((v) => ({ ...v, phase: 'failed', busy: null, error: e instanceof Error ? e.message : String(e) }));
      },
    );
    return () => {
      cancelled = true;
      (bridge.current ?? started)?.terminate();
      bridge.current = null;
    };
  }, [onStats, configure, store]);

  // What the heartbeat reads without restarting itself on every render.
  const liveness = useRef({ busy: false, step: 0, saved: null as WorkerLoss['saved'] });
  useEffect(() => {
    liveness.current = {
      busy: view.status.state === 'running' || view.busy !== null,
      step: view.status.step,
      saved: view.status.save && view.status.save.step > 0 ? { step: view.status.save.step, savedAt: view.status.save.savedAt } : null,
    };
  }, [view.status, view.busy]);

  /** The Worker is gone or stuck: end it (every pending call rejects, so nothing hangs) and say so. */
  const lose = useCallback((b: TrainingBridge, reason: string) => {
    if (bridge.current !== b) return;
    b.terminate(new Error(`the training worker ${reason}`));
    const { step, saved } = liveness.current;
    setWorkerLoss({ reason, ended: true, step, saved });
    setView((v) => ({ ...v, busy: null, status: { ...v.status, state: 'error', error: null, diverged: null } }));
  }, []);

  // The heartbeat: a cheap call every few seconds; an uncaught error in the Worker ends it at once.
  const workerEnded = workerLoss?.ended ?? false;
  useEffect(() => {
    const b = bridge.current;
    if (!b || view.phase !== 'ready' || workerEnded) return;
    let sentAt: number | null = null;
    const timer = setInterval(() => {
      if (sentAt !== null) {
        const limit = liveness.current.busy ? BUSY_TIMEOUT_MS : IDLE_TIMEOUT_MS;
        // Not ended here: a Worker deep in a long computation answers late, and its run is worth keeping.
        if (performance.now() - sentAt > limit) {
          const { step, saved } = liveness.current;
          setWorkerLoss((l) => l ?? { reason: `stopped answering (no reply for ${Math.round(limit / 1000)} s)`, ended: false, step, saved });
        }
        return;
      }
      sentAt = performance.now();
      b.api.training.ping().then(
        () => {
          sentAt = null;
          setWorkerLoss((l) => (l && !l.ended ? null : l));
        },
        () => {},
      );
    }, HEARTBEAT_MS);
    const off = b.onFailure((e) => lose(b, `crashed (${e.message})`));
    return () => {
      clearInterval(timer);
      off();
    };
  }, [view.phase, workerEnded, generation, lose]);

  const running = view.status.state === 'running';
  const setupDirty = builtSetup !== null && JSON.stringify(builtSetup) !== JSON.stringify(setup);

  /**
   * Setup changes rebuild the model at once while nothing has been trained; later they wait for
   * Reset, and until then the live parameters stay those the Worker runs with.
   */
  // Read by `updateSetup` when called, so that it stays the same function from one statistics batch to the next.
  const untrained = useRef(true);
  useEffect(() => {
    untrained.current = view.status.step === 0 && !running;
  }, [view.status.step, running]);
  const updateSetup = useCallback(
    (patch: Partial<SetupForm>) => {
      const next = { ...setup, ...patch };
      setSetupState(next);
      if (untrained.current && view.phase === 'ready') {
        const nextParams = paramsForSetup(params, setup, next);
        setParamsState(nextParams);
        void configure(next, nextParams);
      }
    },
    [setup, params, view.phase, configure],
  );

  const flushParams = useCallback(() => {
    paramTimer.current = null;
    const patch = pendingParams.current;
    pendingParams.current = {};
    if (Object.keys(patch).length === 0) return;
    bridge.current?.api.training.setParams(patch).catch(fail);
  }, [fail]);

  /** A live parameter: shown at once, sent to the Worker once the slider rests; applies from the next step. */
  const updateParam = useCallback(
    <K extends keyof LiveParams>(key: K, value: LiveParams[K]) => {
      setParamsState((p) => ({ ...p, [key]: value }));
      pendingParams.current[key] = value;
      if (paramTimer.current !== null) clearTimeout(paramTimer.current);
      paramTimer.current = setTimeout(flushParams, PARAM_DEBOUNCE_MS);
    },
    [flushParams],
  );

  useEffect(
    () => () => {
      if (paramTimer.current !== null) clearTimeout(paramTimer.current);
    },
    [],
  );

  const call = useCallback(
    async (fn: (b: TrainingBridge) => Promise<unknown>) => {
      const b = bridge.current;
      if (!b) return;
      setView((v) => ({ ...v, error: null }));
      try {
        await fn(b);
      } catch (e) {
        fail(e);
      }
    },
    [fail],
  );

  // Start (or resume) the current model; a changed setup waits for Reset.
  const start = useCallback(
    () =>
      call(async (b) => {
        if (!builtSetup) await configure(setup, params);
        await b.api.training.start();
      }),
    [call, configure, setup, params, builtSetup],
  );
  const pause = useCallback(() => call((b) => b.api.training.pause()), [call]);
  const step = useCallback(() => call((b) => b.api.training.step()), [call]);
  const download = useCallback(
    (includeKey: boolean) =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: 'Exporting the weights…' }));
        try {
          saveBundle(await b.api.training.exportWeights({ includeKey }));
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call],
  );

  const loadWeights = useCallback(
    (file: File) =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: `Loading the weights of ${file.name}…` }));
        try {
          const model = await b.api.training.loadWeights(new Uint8Array(await file.arrayBuffer()), file.name);
          setView((v) => ({ ...v, model }));
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call],
  );

  // Every save the Worker reports refreshes the list.
  const savedAt = view.status.save?.savedAt;
  useEffect(() => {
    const api = bridge.current?.api.training;
    if (!api || !savedAt) return;
    api.savedRuns().then(setSavedRuns, fail);
  }, [savedAt, fail]);

  /** A resumed run: the setup form and the live parameters become the run's (model null: a run put back with no model in memory, which the status says). */
  const resumed = useCallback((model: ModelInfo | null, resumedSetup: TrainingSetup) => {
    const { params: live, ...form } = resumedSetup;
    setSetupState(form);
    setBuiltSetup(form);
    setParamsState(live);
    setView((v) => ({ ...v, model: model ?? v.model }));
  }, []);

  const resumeSaved = useCallback(
    (run: SavedRun) =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: `Resuming the run at step ${run.step}…` }));
        try {
          const r = await b.api.training.resumeSaved(run.id);
          resumed(r.model, r.setup);
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call, resumed],
  );

  /** The run in use as a checkpoint file, to keep or to open on another machine (here or with `npm run train -- --resume`). */
  const downloadRun = useCallback(
    () =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: 'Saving the run to a file…' }));
        try {
          const bytes = await b.api.training.checkpoint();
          const s = await b.api.training.currentSetup();
          saveBlob(new Blob([bytes.slice()], { type: 'application/zip' }), `moco-run-${s?.preset ?? 'model'}-step${view.status.step}.zip`);
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call, view.status.step],
  );

  /** Continues the run of a checkpoint file (the app's download or the headless trainer's); a bad file changes nothing. */
  const openRun = useCallback(
    (file: File) =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: `Opening the run in ${file.name}…` }));
        try {
          const model = await b.api.training.resume(new Uint8Array(await file.arrayBuffer()), file.name);
          const s = await b.api.training.currentSetup();
          if (s) resumed(model, s);
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call, resumed],
  );

  const renameSavedRun = useCallback(
    (run: SavedRun, name: string) =>
      call(async (b) => {
        await b.api.training.renameSavedRun(run.id, name);
        setSavedRuns(await b.api.training.savedRuns());
      }),
    [call],
  );

  const deleteSavedRun = useCallback(
    (run: SavedRun) =>
      call(async (b) => {
        await b.api.training.deleteSavedRun(run.id);
        setSavedRuns(await b.api.training.savedRuns());
      }),
    [call],
  );

  /** The Worker's API for panels that call it themselves (the Data panel); null until the Worker has started. */
  // eslint-disable-next-line react-hooks/exhaustive-deps -- a new function per Worker: panels subscribe again
  const workerApi = useCallback(() => bridge.current?.api ?? null, [generation]);
  /** The Worker switched datasets and built a fresh model: Reset and setup changes now train on that dataset. */
  const datasetChanged = useCallback((model: ModelInfo, dataset: DatasetName) => {
    setSetupState((s) => ({ ...s, dataset }));
    setBuiltSetup((b) => (b ? { ...b, dataset } : b));
    setView((v) => ({ ...v, model }));
  }, []);

  /** Blocks the controls while something else drives the Worker (an experiment), saying what; null frees them. */
  const setBusy = useCallback((busy: string | null) => setView((v) => ({ ...v, busy })), []);
  /** After a step went wrong: the last good state again, with the sliders as they are now. */
  const restoreGoodState = useCallback(
    () =>
      call(async (b) => {
        const step = view.status.diverged?.restoreStep ?? 0;
        setView((v) => ({ ...v, busy: `Restoring the last good state (step ${step})…` }));
        // The restored run replays its chart as a new run: the markers up to the restored step stay.
        store.keepMarkersThrough(step);
        try {
          const model = await b.api.training.restoreGoodState().catch((e: unknown) => {
            store.keepMarkersThrough(null);
            throw e;
          });
          setView((v) => ({ ...v, model }));
          setNotice(`Restored the last good state (step ${step}). Change the knob the message named, then Start.`);
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call, view.status.diverged, store],
  );

  /** After the GPU device was lost and not recovered by itself: the fallback backend, from the last good state. */
  const continueOnCpu = useCallback(
    () =>
      call(async (b) => {
        setView((v) => ({ ...v, busy: 'Moving the run off the GPU…' }));
        setRecovered(null);
        try {
          const r = await b.api.training.continueOnCpu();
          setView((v) => ({ ...v, backend: r.backend, model: r.model }));
          setNotice(`Training continues on the ${BACKEND_LABELS[r.backend.backend]} from the last good state; Restart the worker later to try WebGPU again.`);
        } finally {
          setView((v) => ({ ...v, busy: null }));
        }
      }),
    [call],
  );

  /**
   * A new training Worker in place of one that ended: it resumes the run's last save (a run on the
   * built-in dataset), or builds a fresh model of the setup, and says what was lost.
   */
  const restart = useCallback(
    async (resume = true) => {
      // From a Worker that is alive (its GPU device lost): the same as from one that ended.
      const loss = workerLoss ?? (resume ? { reason: 'restarted', ended: false, ...liveness.current } : null);
      bridge.current?.terminate(new Error('the training worker was restarted'));
      bridge.current = null;
      setNotice(null);
      setRecovered(null);
      recoverySeen.current = 0;
      setView((v) => ({ ...v, busy: 'Starting a new training worker…', error: null }));
      try {
        const b = await startTraining(onStats, { backends: urlBackends(), autosaveEveryMs: urlAutosaveMs(), runIdAfter: view.status.runId, testHooks: hasTestHooks() });
        bridge.current = b;
        installTestHooks(b, store, onStats);
        setGeneration((g) => g + 1);
        setWorkerLoss(null);
        setView((v) => ({ ...v, backend: b.backend, busy: null }));
        const runs = await b.api.training.savedRuns();
        setSavedRuns(runs);
        const saved = resume && loss?.saved ? runs.find((r) => r.savedAt === loss.saved!.savedAt && r.step === loss.saved!.step) : undefined;
        if (saved && saved.dataset === 'synthetic') {
          const r = await b.api.training.resumeSaved(saved.id);
          resumed(r.model, r.setup);
          const lost = Math.max(0, loss!.step - saved.step);
          setNotice(`Restarted: the run goes on from its last save at step ${saved.step}; ${lost === 1 ? '1 step' : `${lost} steps`} since then ${lost === 1 ? 'was' : 'were'} lost.`);
          return;
        }
        await configure(builtSetup ?? setup, params);
        if (!resume || !loss) setNotice('Restarted with a fresh model.');
        else if (saved)
          setNotice(
            `Restarted with a fresh model: the run's images lived in the worker that ended. ${saved.dataset === 'sample' ? 'Choose the CIFAR-10 sample in the Dataset menu' : 'Load the same files in the Data panel'} again, then Resume the saved run (step ${saved.step}) under Saved runs.`,
          );
        else setNotice(`Restarted with a fresh model: the run had no save yet, so its ${loss.step} steps were lost.`);
      } catch (e) {
        fail(e);
      }
    },
    [workerLoss, onStats, view.status.runId, store, resumed, configure, builtSetup, setup, params, fail],
  );

  const reset = useCallback(
    () =>
      workerLoss ? restart(false) : call(() => {
        const nextParams = builtSetup ? paramsForSetup(params, builtSetup, setup) : params;
        setParamsState(nextParams);
        return configure(setup, nextParams);
      }),
    [call, configure, setup, params, builtSetup, workerLoss, restart],
  );

  /** The run's warnings that do not stop it (a blown-up loss, GPU errors), less those dismissed. */
  const warnings = shownWarnings(view.status, dismissedWarnings);
  const status = view.status;
  const dismissRunWarning = useCallback((which: keyof WarningKeys) => setDismissedWarnings((d) => dismissWarning(d, status, which)), [status]);

  /** This setup and these parameters as a link (the user's own files travel as the built-in shapes). */
  const shareLink = useCallback(() => `${location.origin}${location.pathname}?${encodeSetupLink(setup, params)}`, [setup, params]);

  return { warnings, dismissRunWarning, continueOnCpu, workerLoss, notice, dismissNotice: () => setNotice(null), recovered, dismissRecovered: () => setRecovered(null), restoreGoodState, restart, view, store, version, setup, params, setupDirty, running, updateSetup, updateParam, start, pause, step, reset, download, loadWeights, workerApi, datasetChanged, sampleFromLink, shareLink, savedRuns, resumeSaved, renameSavedRun, deleteSavedRun, downloadRun, openRun, setBusy, adoptRun: resumed };
}

export type Training = ReturnType<typeof useTraining>;

/** With `?testHooks`: the bridge and the statistics for end-to-end tests and the console, and a way to end the Worker as a crash would. */
function installTestHooks(b: TrainingBridge, store: SeriesStore, inject: (batch: StatsBatch) => void): void {
  if (hasTestHooks()) window.__moco = { bridge: b, store, inject, killWorker: () => b.worker.terminate() };
}

function hasTestHooks(): boolean {
  return new URLSearchParams(location.search).has('testHooks');
}
