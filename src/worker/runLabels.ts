/**
 * Runs named by what differs between them ("m = 0.9", "K = 256"): a legend that says what a curve
 * is compared with. Plain functions: the page and the Worker use them.
 */
import type { TrainingSetup } from './types';

type Aspect = (s: TrainingSetup) => string;

/** Everything that can tell runs apart, in the order a label lists them. */
const ASPECTS: Aspect[] = [
  (s) => `MoCo ${s.version}`,
  (s) => s.preset,
  (s) => `batch = ${s.batchSize}`,
  (s) => `m = ${short(s.params.momentum)}`,
  (s) => `K = ${s.params.queueSize}`,
  (s) => `T = ${short(s.params.temperature)}`,
  (s) => `lr = ${short(s.params.learningRate)}`,
  (s) => (s.dataset === 'synthetic' ? `shapes (${s.datasetSize})` : s.dataset === 'sample' ? 'CIFAR-10 sample' : 'your files'),
  (s) => `seed ${s.seed}`,
  // Not the step budget: the charts' x axis shows a run's length, and "100 steps" beside every experiment run only crowds the legend.
];

/** 0.99 → "0.99", 0.000937 → "0.000937": four significant digits at most, no trailing zeros. */
function short(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/**
 * One label per run: the aspects whose value is not the same for all runs, joined by ", ". Runs
 * equal in every aspect (or a single run) get `fallback(i)`.
 */
export function labelsByDifference(setups: readonly TrainingSetup[], fallback: (i: number) => string = (i) => `run ${i + 1}`): string[] {
  const differing = ASPECTS.filter((aspect) => new Set(setups.map(aspect)).size > 1);
  return setups.map((s, i) => (differing.length ? differing.map((aspect) => aspect(s)).join(', ') : fallback(i)));
}

/**
 * `labels` told apart: a label that several runs share ("m = 0.9" for a saved run and an
 * experiment's run of the same setup) gets each such run's `origin` after it, "m = 0.9 (experiment)";
 * a unique label stays as it is.
 */
export function tellApart(labels: readonly string[], origin: (i: number) => string): string[] {
  const count = new Map<string, number>();
  for (const l of labels) count.set(l, (count.get(l) ?? 0) + 1);
  return labels.map((l, i) => ((count.get(l) ?? 0) > 1 ? `${l} (${origin(i)})` : l));
}

/** The label of one value of an experiment's parameter on `base` ("m = 0.9", "MoCo v1"). */
export function labelOf(setup: TrainingSetup, param: 'momentum' | 'queueSize' | 'temperature' | 'batchSize' | 'version'): string {
  const aspect = { version: ASPECTS[0], batchSize: ASPECTS[2], momentum: ASPECTS[3], queueSize: ASPECTS[4], temperature: ASPECTS[5] }[param];
  return aspect(setup);
}
