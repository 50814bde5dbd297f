import { appendFileSync, writeFileSync } from 'node:fs';

/** One record: its `kind` says what it is ('setup', 'step', 'knn', 'probe', 'checkpoint', …). */
export type LogRecord = { kind: string } & Record<string, unknown>;

/**
 * The `--log-json FILE` record: one JSON object a line, written synchronously, a line at a time, so
 * that a run cut short keeps every line it printed. Every run of a sweep appends to the same file,
 * its records tagged with the swept value (`"run": "momentum=0.9"`).
 */
export class JsonLog {
  /** Also given every record (the classroom recording reads the run from the same records). */
  private readonly listeners: ((record: LogRecord) => void)[] = [];

  constructor(
    private readonly path: string | undefined,
    private readonly runTag?: string,
  ) {}

  listen(listener: (record: LogRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Empties the file: a sweep, or a run that is neither resumed nor part of a sweep, starts it anew. */
  static empty(path: string | undefined): void {
    if (path) writeFileSync(path, '');
  }

  write(record: LogRecord): void {
    for (const listener of this.listeners) listener(record);
    if (this.path) appendFileSync(this.path, `${JSON.stringify(this.runTag ? { run: this.runTag, ...record } : record)}\n`);
  }
}
