import type { SavedRun } from '../../src/worker/types';

/** Saved runs held in memory with the store's contract: a save replaces the run's older one. */
export class MemoryRunStore {
  readonly runs = new Map<string, { run: SavedRun; bytes: Uint8Array }>();

  async save(bytes: Uint8Array, summary: Omit<SavedRun, 'id'>): Promise<SavedRun> {
    const run = { ...summary, id: `${summary.runKey}@${summary.step}` };
    for (const [id, r] of this.runs) if (r.run.runKey === summary.runKey) this.runs.delete(id);
    this.runs.set(run.id, { run, bytes });
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
