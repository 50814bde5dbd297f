import * as Comlink from 'comlink';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Cifar100Labels } from '../data/cifar';
import { DatasetError } from '../data/errors';
import { SAMPLE_FOLDER, type DataFile, type DataSelection, type DatasetInfo, type DatasetSource, type LoadProgress } from '../worker/types';
import type { Training } from './useTraining';

export interface Loading {
  /** What is being read, for the progress line. */
  what: string;
  /** Null until the first report (a bare .bin reports only when read). */
  progress: LoadProgress | null;
}

/** The error of a picked folder with no file in it, anywhere below it. */
export const EMPTY_PICK =
  'the folder you picked holds no files: pick a folder with one sub-folder of images per class (Folder…), or CIFAR-10/100 files (Files…)';

function describeSelection(files: readonly DataFile[]): string {
  if (files.length === 1) return files[0].path;
  const top = files[0]?.path.split('/')[0];
  return files.every((f) => f.path.split('/')[0] === top && f.path.includes('/')) ? `${top}/ (${files.length} files)` : `${files.length} files`;
}

/**
 * The Data panel's loads: every choice goes to the Worker at once, also while another is read (the
 * Worker trains on the data asked for last; a load it replaced rejects with `LoadSuperseded`). The
 * panel shows only the latest load's progress and outcome.
 */
export class DataLoads {
  private asked = 0;
  /** The loads the Worker has not answered yet, by ticket: what each reads. */
  private readonly pending = new Map<number, string>();

  /** A new choice of `what` (as the progress line names it): its ticket, which makes every earlier one stale. */
  begin(what: string): number {
    this.pending.set(++this.asked, what);
    return this.asked;
  }

  /** The Worker answered the load of `ticket` (built its run, failed, or refused it as replaced). */
  end(ticket: number): void {
    this.pending.delete(ticket);
  }

  /**
   * What earlier choices the Worker is still busy with: replaced, so they will not be used, but a
   * large file's read goes on to its end (the panel says so, so that the work going on is explained
   * and its end is visible).
   */
  dropping(): string[] {
    return [...this.pending].filter(([ticket]) => !this.isLatest(ticket)).map(([, what]) => what);
  }

  /** Whether `ticket` is the latest choice (its progress and outcome are what the panel shows). */
  isLatest(ticket: number): boolean {
    return ticket === this.asked;
  }

  /**
   * What the panel says for a load that failed: nothing for one that a later choice in this panel
   * replaced (the user chose other data: the Worker's `LoadSuperseded` is no news to them). The
   * latest choice replaced all the same was replaced elsewhere (the classroom replay reading the
   * sample for its final model): said, with the Worker's words naming what replaced it and how to get theirs back.
   */
  errorOf(ticket: number, e: unknown): string | null {
    if (!this.isLatest(ticket)) return null;
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * The Data panel's state: the dataset training reads (refreshed with every model the Worker
 * builds), a load in progress, the replaced loads the Worker is still finishing, and the last
 * load's error — which leaves the summary of the dataset still in use on screen.
 */
export function useDataset(training: Training) {
  const { workerApi, datasetChanged, view, sampleFromLink } = training;
  const [info, setInfo] = useState<DatasetInfo | null>(null);
  const [loading, setLoading] = useState<Loading | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dropping, setDropping] = useState<string[]>([]);
  const [labels, setLabelsState] = useState<Cifar100Labels>('fine');
  /** The files in use, to read again with the other CIFAR-100 labels. */
  const lastFiles = useRef<DataSelection | null>(null);
  const loads = useRef(new DataLoads());

  // A Reset or a new built-in size also builds a model: the summary follows every one.
  useEffect(() => {
    const api = workerApi();
    if (!api || !view.model) return;
    let current = true;
    api.training.datasetInfo().then(
      (next) => current && setInfo(next),
      () => {},
    );
    return () => {
      current = false;
    };
  }, [view.model, workerApi]);

  const load = useCallback(
    async (source: DatasetSource) => {
      const api = workerApi();
      if (!api) return;
      const what = describeSource(source);
      const ticket = loads.current.begin(what);
      const latest = () => loads.current.isLatest(ticket);
      setLoading({ what, progress: null });
      setDropping(loads.current.dropping());
      setError(null);
      try {
        // A late report (they are not awaited) must not bring back a finished progress bar, nor an earlier choice's over the latest's.
        // The Worker releases this proxy (its ports, on both sides) when the load settles (serve in worker/expose.ts).
        const onProgress = Comlink.proxy((progress: LoadProgress) => latest() && setLoading((l) => l && { ...l, progress }));
        const loaded = await api.training.loadDataset(source, onProgress);
        // A load that built its run is the one in use, until a later choice builds its own.
        lastFiles.current = source.kind === 'files' ? { files: source.files, folders: source.folders ?? [] } : null;
        setInfo(loaded.dataset);
        datasetChanged(loaded.model, source.kind === 'builtin' ? 'synthetic' : source.kind);
      } catch (e) {
        const message = loads.current.errorOf(ticket, e);
        if (message !== null) setError(message);
      } finally {
        if (latest()) setLoading(null);
        loads.current.end(ticket);
        setDropping(loads.current.dropping());
      }
    },
    [workerApi, datasetChanged],
  );

  /**
   * A pick with no file in it is an empty folder (a cancelled picker fires no change): said here,
   * as the browser gives not even its name, instead of a click that does nothing.
   */
  const loadFiles = useCallback(
    (files: DataFile[]) => {
      if (files.length > 0) void load({ kind: 'files', files, labels });
      else setError(EMPTY_PICK);
    },
    [load, labels],
  );

  /**
   * Dropped folders are walked before anything is sent; a folder the browser will not list is an
   * error like any other. The folders go along: the Worker reports class folders without images.
   */
  const loadDropped = useCallback(
    (walking: Promise<DataSelection>) =>
      walking.then(
        // Even an empty drop goes to the Worker, which says there is nothing to load.
        ({ files, folders }) => load({ kind: 'files', files, folders, labels }),
        // The walk names the file or folder it could not open (DatasetError); anything else is said as it is.
        (e: unknown) => setError(e instanceof DatasetError ? e.message : `the dropped items could not be read (${e instanceof Error ? e.message : String(e)})`),
      ),
    [load, labels],
  );

  const loadBuiltIn = useCallback(() => void load({ kind: 'builtin' }), [load]);

  /** The CIFAR-10 sample the app serves beside its page (public/cifar10-sample/, copied into dist/ by the build). */
  const loadSample = useCallback(() => void load({ kind: 'sample', url: new URL(`${import.meta.env.BASE_URL}${SAMPLE_FOLDER}`, location.href).href }), [load]);

  // A shared link asking for the sample: read it once, when the first model is built.
  const linkSampleRead = useRef(false);
  useEffect(() => {
    if (!sampleFromLink || linkSampleRead.current || !view.model) return;
    linkSampleRead.current = true;
    loadSample();
  }, [sampleFromLink, view.model, loadSample]);

  /** The label kind for CIFAR-100 files; CIFAR-100 files in use are read again with it. */
  const setLabels = useCallback(
    (next: Cifar100Labels) => {
      setLabelsState(next);
      if (info?.format === 'cifar100' && info.labels !== next && lastFiles.current) void load({ kind: 'files', ...lastFiles.current, labels: next });
    },
    [info, load],
  );

  return { info, loading, dropping, error, labels, loadFiles, loadDropped, loadBuiltIn, loadSample, setLabels };
}

export type DataState = ReturnType<typeof useDataset>;

function describeSource(source: DatasetSource): string {
  if (source.kind === 'builtin') return 'the built-in dataset';
  if (source.kind === 'sample') return 'the CIFAR-10 sample';
  return describeSelection(source.files);
}
