import type { SavedRun } from '../../src/worker/types';

/**
 * Saved runs held in memory with the IndexedDB store's contract (src/worker/runStore.ts): a save
 * replaces the run's older one, all or nothing, and keeps the name given to the run; the list is
 * newest first.
 */
export class MemoryRunStore {
  readonly runs = new Map<string, { run: SavedRun; bytes: Uint8Array }>();
  /** While set, every save fails, as on a full disk, and the saves before it are kept. */
  full = false;

  /** `writeMs`: how long each save takes (as an IndexedDB commit does), during which training goes on. */
  constructor(private readonly writeMs = 0) {}

  async save(bytes: Uint8Array, summary: Omit<SavedRun, 'id'>): Promise<SavedRun> {
    if (this.writeMs > 0) await new Promise((r) => setTimeout(r, this.writeMs));
    if (this.full) throw new Error(`the browser's storage for this page is full: the run at step ${summary.step} was not saved`);
    const name = [...this.runs.values()].find((r) => r.run.runKey === summary.runKey)?.run.name;
    const run = { ...summary, ...(name ? { name } : {}), id: `${summary.runKey}@${summary.step}` };
    for (const [id, r] of this.runs) if (r.run.runKey === summary.runKey) this.runs.delete(id);
    // A copy: the caller may reuse its buffer once the save is done.
    this.runs.set(run.id, { run, bytes: bytes.slice() });
    return run;
  }

  async list(): Promise<SavedRun[]> {
    return [...this.runs.values()].map((r) => r.run).sort((a, b) => b.savedAt - a.savedAt);
  }

  async read(id: string): Promise<Uint8Array> {
    return this.runs.get(id)!.bytes;
  }

  async rename(id: string, name: string): Promise<void> {
    const r = this.runs.get(id)!;
    r.run = { ...r.run, name };
  }

  async delete(id: string): Promise<void> {
    this.runs.delete(id);
  }
}
