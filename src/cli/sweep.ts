/**
 * `--sweep PARAM=V1,V2,…`: the same run once per value of one parameter (the MoCo paper's ablations,
 * headless), on the same data, seed and length; one table row per value at the end.
 */
import { formatDecimal, formatNearOne } from '../util/decimals';

export const SWEEP_PARAMS = { momentum: '--momentum', queue: '--queue', temperature: '--temperature', batch: '--batch' } as const;
export type SweepParam = keyof typeof SWEEP_PARAMS;

export interface Sweep {
  param: SweepParam;
  values: string[];
}

/** What one run of a sweep reports for its table row. */
export interface RunSummary {
  steps: number;
  /**
   * Means over the last tenth of the steps (finalFigures in src/train/finalFigures.ts): the loss,
   * the loss over its chance level ln(n + 1), the contrastive accuracy, the key encoder's lag and
   * its key consistency.
   */
  finalLoss: number;
  finalLossRatio: number;
  finalContrastiveAccuracy: number;
  finalKeyLag: number;
  finalKeyConsistency: number;
  /** kNN accuracy at the end, when --eval was given. */
  knn?: number;
  /** Seconds of training steps, evaluations excluded. */
  seconds: number;
}

/** How a run knows it is one of a sweep: its tag for --log-json records, and where its summary goes. */
export interface SweepRun {
  tag: string;
  report(summary: RunSummary): void;
}

/** Parses `PARAM=V1,V2,…`; throws an Error whose message is fit for the user. */
export function parseSweep(text: string): Sweep {
  const match = /^([a-z]+)=(.+)$/.exec(text.trim());
  const params = Object.keys(SWEEP_PARAMS).join(', ');
  if (!match) throw new Error(`--sweep must look like momentum=0,0.9,0.99 (one of ${params}), got '${text}'`);
  const [, param, list] = match;
  if (!(param in SWEEP_PARAMS)) throw new Error(`--sweep can vary ${params}, not '${param}'`);
  const values = list.split(',').map((v) => v.trim());
  if (values.some((v) => v === '' || !Number.isFinite(Number(v)))) throw new Error(`--sweep ${param} needs numbers separated by commas, got '${list}'`);
  if (new Set(values).size !== values.length) throw new Error(`--sweep ${param} lists a value twice: '${list}'`);
  return { param: param as SweepParam, values };
}

/** The command line of one run of the sweep: the sweep removed, the parameter set to `value` (last wins). */
export function sweepRunArgv(argv: readonly string[], sweep: Sweep, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sweep') i++;
    else if (!argv[i].startsWith('--sweep=')) out.push(argv[i]);
  }
  return [...out, SWEEP_PARAMS[sweep.param], value];
}

/** Runs every value in turn; prints the table; the exit status is the first failure's, else 0. */
export async function runSweep(
  argv: readonly string[],
  sweep: Sweep,
  runOne: (argv: string[], run: SweepRun) => Promise<number>,
): Promise<number> {
  const rows: { value: string; summary?: RunSummary; code: number }[] = [];
  for (const value of sweep.values) {
    console.log(`\n=== sweep ${sweep.param} = ${value} (${rows.length + 1} of ${sweep.values.length}) ===`);
    let summary: RunSummary | undefined;
    const code = await runOne(sweepRunArgv(argv, sweep, value), { tag: `${sweep.param}=${value}`, report: (s) => (summary = s) });
    rows.push({ value, summary, code });
  }
  console.log(`\nsweep of ${sweep.param}:`);
  console.log(formatSweepTable(sweep.param, rows));
  console.log(SWEEP_LEGEND);
  return rows.find((r) => r.code !== 0)?.code ?? 0;
}

/** What the table's columns mean, printed under it. */
export const SWEEP_LEGEND = [
  'Means over the last tenth of each run. loss/ln(n+1): the loss over its chance level (n the keys the queue held), 1 at chance',
  'at any K: compare runs of different K by it, not by the raw loss. key-lag: ‖θk − θq‖/‖θq‖, how far the key encoder trails',
  'the query encoder (0 with m = 0); key-cos: the key consistency, the mean cosine of the two encoders\' embeddings of fixed images',
  '(1 with m = 0). Both show what m does at once; its effect on accuracy needs many epochs.',
].join('\n');


export function formatSweepTable(param: string, rows: readonly { value: string; summary?: RunSummary; code: number }[]): string {
  const header = [param, 'steps', 'loss', 'loss/ln(n+1)', 'ctr-acc', 'knn', 'key-lag', 'key-cos', 'seconds'];
  const lines = rows.map(({ value, summary: s, code }) =>
    s
      ? [
          value,
          String(s.steps),
          s.finalLoss.toFixed(4),
          Number.isFinite(s.finalLossRatio) ? s.finalLossRatio.toFixed(3) : '–',
          `${(100 * s.finalContrastiveAccuracy).toFixed(1)}%`,
          s.knn === undefined ? '–' : `${(100 * s.knn).toFixed(1)}%`,
          formatDecimal(s.finalKeyLag),
          formatNearOne(s.finalKeyConsistency),
          s.seconds.toFixed(1),
        ]
      : [value, '–', '–', '–', '–', '–', '–', '–', `failed (exit ${code})`],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ')).join('\n');
}
