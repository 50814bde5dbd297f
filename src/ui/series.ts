import { createLTTB } from 'downsample';
import { STAT_FIELDS, type ParamChange, type StatField, type StatsBatch, type StepRecord } from '../worker/types';
import { chanceLoss } from '../train/finalFigures';

/** A parameter change of a run, whatever its run id: from which step which parameters took which values. */
export type RunChange = Omit<ParamChange, 'runId'>;

/** Points drawn per series at most, whatever the length of the run. */
export const MAX_DISPLAY_POINTS = 1000;

export interface Point {
  x: number;
  y: number;
}

/** A Float64Array that grows by doubling: the full history of one statistic. */
export class GrowableColumn {
  private buffer: Float64Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.buffer = new Float64Array(initialCapacity);
  }

  push(value: number): void {
    if (this.length === this.buffer.length) this.grow(this.length + 1);
    this.buffer[this.length++] = value;
  }

  /** Appends `values[from..]`. */
  pushAll(values: Float64Array, from = 0): void {
    const n = values.length - from;
    if (n <= 0) return;
    if (this.length + n > this.buffer.length) this.grow(this.length + n);
    this.buffer.set(from ? values.subarray(from) : values, this.length);
    this.length += n;
  }

  private grow(atLeast: number): void {
    let size = this.buffer.length * 2;
    while (size < atLeast) size *= 2;
    const bigger = new Float64Array(size);
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
  }

  /** A view of the values (valid until the next push). */
  values(): Float64Array {
    return this.buffer.subarray(0, this.length);
  }

  at(i: number): number {
    return this.buffer[i];
  }

  clear(): void {
    this.length = 0;
  }
}

/**
 * Debiased exponential moving average (as TensorBoard's smoothing): the running average divided
 * by 1 − β^t, so that the first values are not pulled towards zero.
 */
export class Ema {
  private average = 0;
  private count = 0;

  constructor(readonly beta: number) {}

  next(value: number): number {
    if (!Number.isFinite(value)) return this.count ? this.average / (1 - this.beta ** this.count) : value;
    this.count++;
    this.average = this.beta * this.average + (1 - this.beta) * value;
    return this.average / (1 - this.beta ** this.count);
  }

  reset(): void {
    this.average = 0;
    this.count = 0;
  }
}

/**
 * Statistics plus what the page derives: the loss and accuracy at chance level, the loss as a
 * fraction of its chance level, and the smoothed lines.
 */
export type SeriesField =
  | StatField
  | 'chanceLoss'
  | 'chanceAccuracy'
  | 'lossRatio'
  | 'lossSmoothed'
  | 'lossRatioSmoothed'
  | 'accuracySmoothed';
export const DERIVED_FIELDS = ['chanceLoss', 'chanceAccuracy', 'lossRatio', 'lossSmoothed', 'lossRatioSmoothed', 'accuracySmoothed'] as const;
/** Every series a store holds, in export order. */
export const SERIES_FIELDS: readonly SeriesField[] = [...STAT_FIELDS, ...DERIVED_FIELDS];

/** The smoothed lines and the series each smooths. */
export const SMOOTHED: Readonly<Partial<Record<SeriesField, SeriesField>>> = {
  lossSmoothed: 'loss',
  lossRatioSmoothed: 'lossRatio',
  accuracySmoothed: 'contrastiveAccuracy',
};
const SMOOTHED_PAIRS = Object.entries(SMOOTHED) as [SeriesField, SeriesField][];

/** The smoothing slider's range and first value (TensorBoard's slider goes to 0.99 too). */
export const MAX_SMOOTHING = 0.99;
export const DEFAULT_SMOOTHING = 0.9;

/**
 * The full history of a run, one typed column per statistic, fed by the Worker's batches. The
 * charts draw `downsample`d views of it.
 */
export class SeriesStore {
  readonly columns: Record<SeriesField, GrowableColumn>;
  private readonly buckets: Record<SeriesField, MinMaxBuckets>;
  markers: ParamChange[] = [];
  runId = -1;
  /**
   * Set by `keepMarkersThrough`: the run whose earlier state comes back as the next run (a restore
   * of the last good state), and the step it comes back at.
   */
  private carry: { runId: number; step: number } | null = null;
  /** Bumped on every change: what memoised views key on. */
  version = 0;
  /** β of the debiased EMA of the smoothed lines (0: the raw values). */
  smoothing = DEFAULT_SMOOTHING;
  private emas = new Map<SeriesField, Ema>();

  constructor() {
    this.columns = {} as Record<SeriesField, GrowableColumn>;
    this.buckets = {} as Record<SeriesField, MinMaxBuckets>;
    for (const f of SERIES_FIELDS) {
      this.columns[f] = new GrowableColumn();
      this.buckets[f] = new MinMaxBuckets();
    }
    this.resetEmas();
  }

  get length(): number {
    return this.columns.step.length;
  }

  /** Adds a batch; a batch of a newer run clears the store first, one of an older run is ignored. */
  append(batch: StatsBatch): void {
    this.appendColumns(batch.status.runId, batch.columns, 0, batch.count, batch.paramChanges);
  }

  /**
   * A finished run's columns (a saved run's or an experiment's curves) as a store of their own,
   * with the markers of its parameter changes.
   */
  static fromColumns(columns: Readonly<Record<StatField, Float64Array>>, count: number, changes: readonly RunChange[] = []): SeriesStore {
    const store = new SeriesStore();
    store.appendColumns(0, columns, 0, count, changes.map((c) => ({ runId: 0, ...c })));
    return store;
  }

  /**
   * Adds steps `[from, to)` of `columns` (whole runs' columns or one batch's) to run `runId`, and
   * the markers of `changes`; a newer run clears the store first, an older one is ignored.
   */
  appendColumns(runId: number, columns: Readonly<Record<StatField, Float64Array>>, from: number, to: number, changes: readonly ParamChange[]): void {
    if (runId < this.runId) return;
    if (runId > this.runId) this.clear(runId);
    // Steps arrive in order; a step already held (a repeated batch) is skipped.
    const last = this.length ? this.columns.step.at(this.length - 1) : 0;
    let start = from;
    while (start < to && columns.step[start] <= last) start++;
    const added = to - start;
    for (const f of STAT_FIELDS) this.columns[f].pushAll(columns[f].subarray(start, to));
    const { loss, negatives } = columns;
    const { chanceLoss: chances, chanceAccuracy, lossRatio } = this.columns;
    for (let i = start; i < to; i++) {
      // Embeddings that carry no information score the positive like the n negatives.
      const chance = chanceLoss(negatives[i]);
      chances.push(chance);
      chanceAccuracy.push(1 / (negatives[i] + 1));
      // With no negatives (an empty queue) there is no chance level to compare with.
      lossRatio.push(chance > 0 ? loss[i] / chance : NaN);
    }
    for (const [smooth, source] of SMOOTHED_PAIRS) {
      const ema = this.emas.get(smooth)!;
      const values = this.columns[source];
      for (let i = values.length - added; i < values.length; i++) this.columns[smooth].push(ema.next(values.at(i)));
    }
    const end = this.length;
    for (const [f, b] of Object.entries(this.buckets) as [SeriesField, MinMaxBuckets][]) b.addRange(this.columns[f].values(), end - added, end);
    for (const change of changes) if (change.runId === this.runId) this.addMarker(change);
    this.version++;
  }

  /**
   * Changes that take effect at the same step make one marker, naming all of them; a change
   * already held (a restored run's markers sent again) adds nothing.
   */
  private addMarker(change: ParamChange): void {
    const at = this.markers.findIndex((m) => m.runId === change.runId && m.fromStep >= change.fromStep);
    const same = at >= 0 && this.markers[at].fromStep === change.fromStep ? this.markers[at] : null;
    if (same) this.markers[at] = { ...same, params: { ...same.params, ...change.params } };
    else if (at < 0) this.markers.push(change);
    else this.markers.splice(at, 0, change);
  }

  /** Sets β of the smoothed lines (0 to MAX_SMOOTHING) and recomputes them over the whole run. */
  setSmoothing(beta: number): void {
    const b = Math.min(MAX_SMOOTHING, Math.max(0, beta));
    if (b === this.smoothing) return;
    this.smoothing = b;
    this.resetEmas();
    for (const [smooth, source] of SMOOTHED_PAIRS) {
      const ema = this.emas.get(smooth)!;
      const out = this.columns[smooth];
      const values = this.columns[source].values();
      out.clear();
      for (let i = 0; i < values.length; i++) out.push(ema.next(values[i]));
      this.buckets[smooth].reset();
      this.buckets[smooth].addRange(out.values(), 0, out.length);
    }
    this.version++;
  }

  private resetEmas(): void {
    this.emas = new Map(SMOOTHED_PAIRS.map(([smooth]) => [smooth, new Ema(this.smoothing)]));
  }

  /**
   * The next run is this one brought back to `step` (the last good state restored): it keeps the
   * markers of changes that applied up to that step, and drops those of the discarded steps after
   * it. null: the next run starts without markers again (the restore failed).
   */
  keepMarkersThrough(step: number | null): void {
    this.carry = step === null ? null : { runId: this.runId, step };
  }

  clear(runId = this.runId): void {
    for (const c of Object.values(this.columns)) c.clear();
    for (const b of Object.values(this.buckets)) b.reset();
    const carry = this.carry;
    this.markers =
      carry && carry.runId === this.runId && runId > this.runId ? this.markers.filter((m) => m.fromStep <= carry.step).map((m) => ({ ...m, runId })) : [];
    this.carry = null;
    this.resetEmas();
    this.runId = runId;
    this.version++;
  }

  /** Index of the step nearest to `step` (−1 when empty). Steps are increasing. */
  indexNear(step: number): number {
    const steps = this.columns.step.values();
    if (steps.length === 0) return -1;
    let lo = 0;
    let hi = steps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (steps[mid] < step) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && step - steps[lo - 1] < steps[lo] - step ? lo - 1 : lo;
  }

  last(): StepRecord | null {
    const n = this.length;
    if (n === 0) return null;
    const record = {} as StepRecord;
    for (const f of STAT_FIELDS) record[f] = this.columns[f].at(n - 1);
    return record;
  }

  /** Mean of `field` over the last `n` steps. */
  recentMean(field: SeriesField, n: number): number {
    const values = this.columns[field].values();
    const from = Math.max(0, values.length - n);
    if (values.length === from) return NaN;
    let sum = 0;
    for (let i = from; i < values.length; i++) sum += values[i];
    return sum / (values.length - from);
  }

  /** `field` against the step, reduced to at most `maxPoints` points (MinMaxLTTB on the kept min/max buckets). */
  view(field: SeriesField, maxPoints = MAX_DISPLAY_POINTS): readonly Point[] {
    return frozen(this.buckets[field].view(this.columns.step.values(), this.columns[field].values(), maxPoints));
  }
}

/** Another run drawn on the same charts as the current one (a saved run the user ticked, or a finished run of an experiment). */
export interface RunOverlay {
  id: string;
  label: string;
  colour: string;
  series: SeriesStore;
  knn: Point[];
}

/**
 * Colours for overlaid runs, in the order to hand them out: ten hues that cannot be taken for the
 * current run's own lines on any chart that draws overlays (its blues, the similarities' green and
 * red, the kNN purple, the chance grey: CIEDE2000 ΔE ≥ 20 from each, in the light and the dark
 * scheme), ΔE ≥ 18 from each other, and at least 3:1 against the light and the dark card, so that
 * one list reads on both (tests/ui/overlayColours.test.ts).
 */
export const OVERLAY_COLOURS: readonly string[] = ['#f06c00', '#23a4a4', '#ff0fff', '#939a04', '#8f5924', '#c3226b', '#b88205', '#217362', '#be79a3', '#6c6813'];

/** How many candidates per output point the min/max pre-selection keeps for LTTB. */
const PRESELECT_RATIO = 4;

/**
 * Reduces a series to at most `maxPoints` points that look like it when drawn: MinMaxLTTB (Van
 * Der Donckt et al. 2023), i.e. a min/max pre-selection over equal buckets in one pass over the
 * typed arrays, then Largest-Triangle-Three-Buckets (the `downsample` package) on the few thousand
 * candidates. The first and last points and the global minimum and maximum are always kept.
 * Points whose value is not finite are left out. Runs in O(n) with no allocation per input point,
 * so 100,000 steps cost about a millisecond.
 */
export function downsample(xs: ArrayLike<number>, ys: ArrayLike<number>, maxPoints = MAX_DISPLAY_POINTS): Point[] {
  const n = Math.min(xs.length, ys.length);
  if (maxPoints < 4) throw new Error(`downsample: maxPoints must be at least 4, got ${maxPoints}`);
  // Finite points only, as indices.
  let finite = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(ys[i])) finite++;
  if (finite <= maxPoints) {
    const out: Point[] = [];
    for (let i = 0; i < n; i++) if (Number.isFinite(ys[i])) out.push({ x: xs[i], y: ys[i] });
    return out;
  }

  let first = -1;
  let last = -1;
  let minAt = -1;
  let maxAt = -1;
  for (let i = 0; i < n; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) continue;
    if (first < 0) first = i;
    last = i;
    if (minAt < 0 || y < ys[minAt]) minAt = i;
    if (maxAt < 0 || y > ys[maxAt]) maxAt = i;
  }

  // 1. Min/max pre-selection: each bucket of the index range gives its lowest and highest point.
  const buckets = Math.floor((maxPoints * PRESELECT_RATIO) / 2);
  const candidates: number[] = [first];
  const span = last - first - 1;
  for (let b = 0; b < buckets; b++) {
    const from = first + 1 + Math.floor((b * span) / buckets);
    const to = first + 1 + Math.floor(((b + 1) * span) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const y = ys[i];
      if (!Number.isFinite(y)) continue;
      if (lo < 0 || y < ys[lo]) lo = i;
      if (hi < 0 || y > ys[hi]) hi = i;
    }
    if (lo < 0) continue;
    if (lo < hi) candidates.push(lo, hi);
    else if (hi < lo) candidates.push(hi, lo);
    else candidates.push(lo);
  }
  candidates.push(last);
  return fromCandidates(xs, ys, candidates, minAt, maxAt, maxPoints);
}

/**
 * Steps 2 and 3 of MinMaxLTTB: LTTB (the `downsample` package) over candidate indices in
 * increasing order, leaving room for the global extremes, which go back in if LTTB dropped them.
 */
function fromCandidates(xs: ArrayLike<number>, ys: ArrayLike<number>, candidates: number[], minAt: number, maxAt: number, maxPoints: number): Point[] {
  let chosen = candidates;
  if (candidates.length > maxPoints) {
    const lttb = createLTTB<number>({ x: (i: number) => xs[i], y: (i: number) => ys[i] });
    chosen = Array.from(lttb(candidates, maxPoints - 2) as ArrayLike<number>);
    for (const extreme of [minAt, maxAt]) if (extreme >= 0 && !chosen.includes(extreme)) chosen.push(extreme);
    chosen.sort((a, b) => a - b);
  }
  return chosen.map((i) => ({ x: xs[i], y: ys[i] }));
}

/**
 * The min/max pre-selection of MinMaxLTTB, kept up to date as points are appended, so that a view
 * of a long series costs O(display points) instead of O(length). Buckets span 2^k points; when
 * there would be more than `maxBuckets` of them, neighbours merge and the span doubles.
 */
export class MinMaxBuckets {
  private shift = 0;
  private mins: number[] = [];
  private maxs: number[] = [];
  private first = -1;
  private last = -1;

  constructor(private readonly maxBuckets = MAX_DISPLAY_POINTS * (PRESELECT_RATIO / 2)) {}

  /** Records points `from..to-1` of `ys` (appended in increasing order; `ys` is the whole series). */
  addRange(ys: ArrayLike<number>, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const y = ys[i];
      if (!Number.isFinite(y)) continue;
      if (this.first < 0) this.first = i;
      this.last = i;
      while (i >> this.shift >= this.maxBuckets) this.coarsen(ys);
      const b = i >> this.shift;
      while (this.mins.length <= b) {
        this.mins.push(-1);
        this.maxs.push(-1);
      }
      if (this.mins[b] < 0 || y < ys[this.mins[b]]) this.mins[b] = i;
      if (this.maxs[b] < 0 || y > ys[this.maxs[b]]) this.maxs[b] = i;
    }
  }

  reset(): void {
    this.shift = 0;
    this.mins = [];
    this.maxs = [];
    this.first = -1;
    this.last = -1;
  }

  /** At most `maxPoints` points, as `downsample` would choose them from the candidates. */
  view(xs: ArrayLike<number>, ys: ArrayLike<number>, maxPoints: number): Point[] {
    if (this.first < 0) return [];
    const candidates: number[] = [this.first];
    let minAt = -1;
    let maxAt = -1;
    for (let b = 0; b < this.mins.length; b++) {
      const lo = this.mins[b];
      const hi = this.maxs[b];
      if (lo < 0) continue;
      if (minAt < 0 || ys[lo] < ys[minAt]) minAt = lo;
      if (maxAt < 0 || ys[hi] > ys[maxAt]) maxAt = hi;
      for (const i of lo < hi ? [lo, hi] : hi < lo ? [hi, lo] : [lo]) if (i !== candidates[candidates.length - 1] && i !== this.last) candidates.push(i);
    }
    if (this.last !== this.first) candidates.push(this.last);
    return fromCandidates(xs, ys, candidates, minAt, maxAt, maxPoints);
  }

  private coarsen(ys: ArrayLike<number>): void {
    const mins: number[] = [];
    const maxs: number[] = [];
    for (let b = 0; b < this.mins.length; b += 2) {
      const [l1, l2, h1, h2] = [this.mins[b], this.mins[b + 1] ?? -1, this.maxs[b], this.maxs[b + 1] ?? -1];
      mins.push(l1 < 0 ? l2 : l2 < 0 ? l1 : ys[l2] < ys[l1] ? l2 : l1);
      maxs.push(h1 < 0 ? h2 : h2 < 0 ? h1 : ys[h2] > ys[h1] ? h2 : h1);
    }
    this.mins = mins;
    this.maxs = maxs;
    this.shift++;
  }
}

/**
 * Frozen points: the chart library keeps its props in an Immer store, and Immer walks (and
 * freezes) every object it has not seen frozen, on every update.
 */
export function frozen(points: Point[]): readonly Point[] {
  for (const p of points) Object.freeze(p);
  return Object.freeze(points);
}
