import { appendFileSync, writeFileSync } from 'node:fs';

/**
 * The `--log-json FILE` record: one JSON object a line, written synchronously, a line at a time, so
 * that a run cut short keeps every line it printed. Every run of a sweep appends to the same file,
 * its records tagged with the swept value (`"run": "momentum=0.9"`).
 */
export class JsonLog {
  constructor(
    private readonly path: string | undefined,
    private readonly runTag?: string,
  ) {}

  /** Empties the file: a sweep, or a run that is neither resumed nor part of a sweep, starts it anew. */
  static empty(path: string | undefined): void {
    if (path) writeFileSync(path, '');
  }

  write(record: object): void {
    if (this.path) appendFileSync(this.path, `${JSON.stringify(this.runTag ? { run: this.runTag, ...record } : record)}\n`);
  }
}
