/**
 * Saved runs in the browser's IndexedDB, written and read inside the Worker (off the page's
 * thread). A run is one checkpoint file (train/checkpoint) plus a small summary for the list; the
 * two live in separate object stores so that listing runs never reads the checkpoints.
 *
 * A save is one transaction: the new record goes in and the run's older record goes out together,
 * so a save that fails (the quota reached: QuotaExceededError; a full disk) aborts as a whole and
 * leaves the previous save as it was.
 */
import type { SavedRun } from './types';

const DB_NAME = 'moco-runs';
const DB_VERSION = 1;
const SUMMARIES = 'summaries';
const CHECKPOINTS = 'checkpoints';

/** A save that did not happen; the message says why and what to do, and that the last save is kept. */
export class RunStoreError extends Error {
  override readonly name = 'RunStoreError';
}

export class RunStore {
  private db: Promise<IDBDatabase> | null = null;

  /** IndexedDB exists here (a browser or a Worker; not Node). */
  static available(): boolean {
    return typeof indexedDB !== 'undefined';
  }

  /** Writes a run's checkpoint under a new id, then removes its earlier save (in the same transaction). */
  async save(bytes: Uint8Array, summary: Omit<SavedRun, 'id'>): Promise<SavedRun> {
    let db: IDBDatabase;
    try {
      db = await this.open();
    } catch (e) {
      throw new RunStoreError(`the run at step ${summary.step} was not saved (earlier saves are kept): ${e instanceof Error ? e.message : String(e)}`);
    }
    const tx = db.transaction([SUMMARIES, CHECKPOINTS], 'readwrite');
    const summaries = tx.objectStore(SUMMARIES);
    const older = (await request(summaries.getAll())) as SavedRun[];
    const id = `${summary.runKey}@${summary.step}@${Date.now()}`;
    const name = older.find((o) => o.runKey === summary.runKey && o.name)?.name;
    const saved: SavedRun = { ...summary, ...(name ? { name } : {}), id };
    summaries.put(saved);
    tx.objectStore(CHECKPOINTS).put(bytes, id);
    for (const old of older) {
      if (old.runKey !== summary.runKey || old.id === id) continue;
      summaries.delete(old.id);
      tx.objectStore(CHECKPOINTS).delete(old.id);
    }
    try {
      await done(tx);
    } catch (e) {
      // A write error (a full disk) closes the connection in Chromium: the next save opens a new one.
      this.forget(db);
      const previous = older.find((o) => o.runKey === summary.runKey);
      const kept = previous ? `the last save (step ${previous.step}) is kept` : 'nothing of this run was saved before';
      if (outOfSpace(e)) {
        throw new RunStoreError(
          `no room to save: the disk or the browser's storage for this page is full, so the run at step ${summary.step} was not saved (${kept}). ` +
            'Free disk space or delete old saved runs; the next save (at a pause, or within 30 s of training) tries again',
        );
      }
      // Chromium words a full disk several ways ("Failed to write blobs (IOError)" among them): the fix is named whatever the wording.
      throw new RunStoreError(
        `the run at step ${summary.step} could not be saved (${kept}): ${e instanceof Error ? e.message : String(e)}. ` +
          'If the disk is full, free disk space or delete old saved runs; the next save tries again',
      );
    }
    return saved;
  }

  /** Every saved run, the latest save first. */
  async list(): Promise<SavedRun[]> {
    const db = await this.open();
    const runs = (await request(db.transaction(SUMMARIES).objectStore(SUMMARIES).getAll())) as SavedRun[];
    return runs.sort((a, b) => b.savedAt - a.savedAt);
  }

  async read(id: string): Promise<Uint8Array> {
    const db = await this.open();
    const bytes = (await request(db.transaction(CHECKPOINTS).objectStore(CHECKPOINTS).get(id))) as Uint8Array | undefined;
    if (!bytes) throw new RunStoreError(`the saved run ${id} is no longer stored (deleted in another tab?)`);
    return bytes;
  }

  /** Gives a saved run a name (its later saves keep it). */
  async rename(id: string, name: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(SUMMARIES, 'readwrite');
    const summaries = tx.objectStore(SUMMARIES);
    const run = (await request(summaries.get(id))) as SavedRun | undefined;
    if (!run) throw new RunStoreError(`the saved run ${id} is no longer stored (deleted in another tab?)`);
    summaries.put({ ...run, name });
    await done(tx);
  }

  async delete(id: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([SUMMARIES, CHECKPOINTS], 'readwrite');
    tx.objectStore(SUMMARIES).delete(id);
    tx.objectStore(CHECKPOINTS).delete(id);
    await done(tx);
  }

  private forget(db: IDBDatabase): void {
    db.close();
    this.db = null;
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(SUMMARIES, { keyPath: 'id' });
        req.result.createObjectStore(CHECKPOINTS);
      };
      req.onsuccess = () => resolve(req.result);
      // A failed open is not kept: the next call tries again (a disk that was full may have room now).
      req.onerror = () => {
        this.db = null;
        reject(new RunStoreError(`saved runs cannot be opened (${req.error?.message ?? 'IndexedDB refused'}): if the disk is full, free disk space; the next save tries again`));
      };
      req.onblocked = () => {
        this.db = null;
        reject(new RunStoreError('saved runs cannot be opened: another tab holds an older version of the store; close it'));
      };
    });
    return this.db;
  }
}

/**
 * A failed write for lack of room: the quota's QuotaExceededError, or a full disk, which Chromium
 * reports as an UnknownError whose message names LevelDB's FILE_ERROR_NO_SPACE.
 */
function outOfSpace(e: unknown): boolean {
  if (e instanceof DOMException && e.name === 'QuotaExceededError') return true;
  return e instanceof Error && /NO_SPACE|ENOSPC|no space left|disk is full/i.test(e.message);
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}
