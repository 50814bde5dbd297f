import { SERIES_FIELDS, type Point, type SeriesField, type SeriesStore } from './series';

/** One run of an export: the current run (`label` null) or an overlaid one. */
export interface ExportRun {
  label: string | null;
  series: SeriesStore;
  /** kNN accuracy (0..1) against the step, where the monitor ran. */
  knn?: readonly Point[];
}

/**
 * Every series of the runs as one table: a row per step (the steps of all runs, in order), a
 * column per series. The first column is `step`; then each run's series, named by the field
 * (`loss`, `lossSmoothed`, …) for the current run and `label: field` for the others, plus
 * `knnAccuracy` where a run has kNN results. A cell is null where the run has no such step.
 */
export interface SeriesTable {
  columns: string[];
  rows: (number | null)[][];
}

/** The series a table holds per run (`step` is the row's key), in order. */
export const EXPORT_FIELDS: readonly SeriesField[] = SERIES_FIELDS.filter((f) => f !== 'step');

export function seriesTable(runs: readonly ExportRun[]): SeriesTable {
  const columns = ['step'];
  const stepSet = new Set<number>();
  const prefixes = new Set<string>();
  for (const run of runs) {
    // Two runs of one name (two saves named alike) get distinct columns: "name (2): loss".
    let prefix = run.label === null ? '' : `${run.label}: `;
    for (let n = 2; prefixes.has(prefix); n++) prefix = `${run.label ?? 'run'} (${n}): `;
    prefixes.add(prefix);
    for (const f of EXPORT_FIELDS) columns.push(prefix + f);
    if (run.knn?.length) columns.push(`${prefix}knnAccuracy`);
    for (const s of run.series.columns.step.values()) stepSet.add(s);
    for (const p of run.knn ?? []) stepSet.add(p.x);
  }
  const steps = Float64Array.from(stepSet).sort();
  const rows = Array.from(steps, (s) => {
    const row: (number | null)[] = new Array(columns.length).fill(null);
    row[0] = s;
    return row;
  });
  const rowOf = new Map<number, number>();
  steps.forEach((s, i) => rowOf.set(s, i));
  let col = 1;
  for (const run of runs) {
    const runSteps = run.series.columns.step.values();
    for (const f of EXPORT_FIELDS) {
      const values = run.series.columns[f].values();
      for (let i = 0; i < runSteps.length; i++) rows[rowOf.get(runSteps[i])!][col] = values[i];
      col++;
    }
    if (run.knn?.length) {
      for (const p of run.knn) rows[rowOf.get(p.x)!][col] = p.y;
      col++;
    }
  }
  return { columns, rows };
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV (RFC 4180): a header row of column names, then a row per step; an empty cell where a run has no such step, `NaN` for a value that is not a number. */
export function toCsv(table: SeriesTable): string {
  const lines = [table.columns.map(csvField).join(',')];
  for (const row of table.rows) lines.push(row.map((v) => (v === null ? '' : String(v))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * JSON: an object of arrays, one per column and all as long as the number of steps
 * (`{"step": [1, 2, …], "loss": [8.3, 8.1, …], "m = 0.9: loss": [null, …]}`); null where a run has
 * no such step or the value is not a finite number (JSON has no NaN).
 */
export function toJson(table: SeriesTable): string {
  const out: Record<string, (number | null)[]> = {};
  table.columns.forEach((name, c) => {
    out[name] = table.rows.map((row) => {
      const v = row[c];
      return v !== null && Number.isFinite(v) ? v : null;
    });
  });
  return JSON.stringify(out);
}
