import { describe, expect, it } from 'vitest';
import { STAT_FIELDS, type StatField, type StatsBatch } from '../../src/worker/types';
import { downsample, Ema, GrowableColumn, MAX_DISPLAY_POINTS, OVERLAY_COLOURS, SeriesStore, type RunOverlay } from '../../src/ui/series';
import { EXPORT_FIELDS, seriesTable, toCsv, toJson } from '../../src/ui/seriesExport';
import { logAxis } from '../../src/ui/ticks';

/**
 * CPU time of `fn` in this test process (user + system), in ms. Each test file runs in a process of
 * its own (pool 'forks'): unlike wall time, the browser tests running beside it on the same cores do
 * not count.
 */
function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}

function noisySeries(n: number, seed = 1): { xs: Float64Array; ys: Float64Array } {
  let s = seed;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = i + 1;
    ys[i] = 8 * Math.exp(-i / 20000) + 0.3 * Math.sin(i / 700) + 0.2 * rand();
  }
  return { xs, ys };
}

describe('downsample', () => {
  it('returns short series unchanged', () => {
    const pts = downsample([1, 2, 3], [5, 4, 3]);
    expect(pts).toEqual([
      { x: 1, y: 5 },
      { x: 2, y: 4 },
      { x: 3, y: 3 },
    ]);
  });

  it('bounds 100,000 points to the display budget, keeping the ends and the extremes', () => {
    const { xs, ys } = noisySeries(100_000);
    // Extremes in the middle of the run, where bucketing would be most likely to lose them.
    ys[43_210] = 50;
    ys[77_777] = -50;
    const pts = downsample(xs, ys, MAX_DISPLAY_POINTS);
    expect(pts.length).toBeLessThanOrEqual(MAX_DISPLAY_POINTS);
    expect(pts.length).toBeGreaterThan(MAX_DISPLAY_POINTS * 0.9);
    expect(pts[0]).toEqual({ x: 1, y: ys[0] });
    expect(pts.at(-1)).toEqual({ x: 100_000, y: ys[99_999] });
    expect(pts).toContainEqual({ x: 43_211, y: 50 });
    expect(pts).toContainEqual({ x: 77_778, y: -50 });
    // Points stay in step order and are actual samples of the series.
    for (let i = 1; i < pts.length; i++) expect(pts[i].x).toBeGreaterThan(pts[i - 1].x);
    for (const p of pts) expect(p.y).toBe(ys[p.x - 1]);
  });

  it('follows the shape of the series (every stretch of the run is represented)', () => {
    const { xs, ys } = noisySeries(100_000);
    const pts = downsample(xs, ys, 500);
    const gaps = pts.slice(1).map((p, i) => p.x - pts[i].x);
    expect(Math.max(...gaps)).toBeLessThan(100_000 / 50);
  });

  it('is fast enough to run on every chart update', () => {
    const { xs, ys } = noisySeries(100_000);
    downsample(xs, ys);
    const perCall = cpuMs(() => {
      for (let r = 0; r < 10; r++) downsample(xs, ys);
    }) / 10;
    // About 1 ms here; a generous bound for slower machines.
    expect(perCall).toBeLessThan(15);
  });

  it('leaves out values that are not finite', () => {
    const pts = downsample([1, 2, 3, 4], [1, NaN, Infinity, 2]);
    expect(pts).toEqual([
      { x: 1, y: 1 },
      { x: 4, y: 2 },
    ]);
    const { xs, ys } = noisySeries(5000);
    ys[10] = NaN;
    const long = downsample(xs, ys, 100);
    expect(long.every((p) => Number.isFinite(p.y))).toBe(true);
    expect(long.length).toBeLessThanOrEqual(100);
  });
});

describe('Ema', () => {
  it('is debiased: a constant series smooths to itself from the first value', () => {
    const ema = new Ema(0.95);
    for (let i = 0; i < 10; i++) expect(ema.next(3)).toBeCloseTo(3, 12);
  });

  it('moves towards a new level gradually', () => {
    const ema = new Ema(0.9);
    for (let i = 0; i < 200; i++) ema.next(1);
    const after = ema.next(11);
    expect(after).toBeCloseTo(2, 6);
  });
});

describe('GrowableColumn', () => {
  it('grows past its initial capacity', () => {
    const c = new GrowableColumn(2);
    for (let i = 0; i < 1000; i++) c.push(i);
    expect(c.length).toBe(1000);
    expect(c.values()[999]).toBe(999);
  });
});

function batch(runId: number, steps: number[], extra: Partial<StatsBatch> = {}): StatsBatch {
  const columns = {} as Record<StatField, Float64Array>;
  for (const f of STAT_FIELDS) columns[f] = Float64Array.from(steps, (s) => (f === 'step' ? s : f === 'loss' ? 10 - s / 100 : s));
  return {
    status: { state: 'running', runId, step: steps.at(-1) ?? 0, elapsedMs: 0, stepBudget: 0, error: null },
    count: steps.length,
    columns,
    paramChanges: [],
    queue: { capacity: 16, filled: 0, segmentFill: new Float32Array(16), segmentAge: new Float32Array(16), writeSegment: 0 },
    params: { momentum: 0.99, queueSize: 16, temperature: 0.2, learningRate: 0.03 },
    ...extra,
  };
}

describe('SeriesStore', () => {
  it('appends batches, smooths the loss and keeps markers', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2, 3]));
    store.append(batch(1, [4, 5], { paramChanges: [{ runId: 1, fromStep: 5, params: { momentum: 0.9 } }] }));
    expect(store.length).toBe(5);
    expect(Array.from(store.columns.step.values())).toEqual([1, 2, 3, 4, 5]);
    expect(store.columns.lossSmoothed.length).toBe(5);
    expect(store.columns.lossSmoothed.at(0)).toBeCloseTo(store.columns.loss.at(0), 12);
    expect(store.markers).toEqual([{ runId: 1, fromStep: 5, params: { momentum: 0.9 } }]);
    expect(store.last()?.step).toBe(5);
    expect(store.recentMean('step', 2)).toBe(4.5);
  });

  it('starts over on a new run and ignores late batches of an old one', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2, 3]));
    store.append(batch(2, [1]));
    expect(store.length).toBe(1);
    store.append(batch(1, [4]));
    expect(store.length).toBe(1);
    expect(store.runId).toBe(2);
  });

  it('draws a 100,000-step run with at most MAX_DISPLAY_POINTS points per series', () => {
    const store = new SeriesStore();
    for (let start = 1; start <= 100_000; start += 500) store.append(batch(1, Array.from({ length: 500 }, (_, i) => start + i)));
    expect(store.length).toBe(100_000);
    let views: ReturnType<SeriesStore['view']>[] = [];
    const ms = cpuMs(() => {
      views = (['loss', 'lossSmoothed', 'contrastiveAccuracy', 'meanPositiveSimilarity', 'meanNegativeSimilarity', 'queueFilled', 'queueCapacity', 'meanKeyAge', 'imagesPerSecond', 'learningRate'] as const).map((f) => store.view(f));
    });
    for (const v of views) expect(v.length).toBeLessThanOrEqual(MAX_DISPLAY_POINTS);
    expect(ms).toBeLessThan(100);
  });
});

describe('niceAxis', () => {
  it('covers the range with round ticks', async () => {
    const { niceAxis, stepAxis } = await import('../../src/ui/ticks');
    expect(niceAxis(0.13, 7.9)).toEqual({ domain: [0, 8], ticks: [0, 2, 4, 6, 8] });
    expect(niceAxis(-1, 1).ticks).toEqual([-1, -0.5, 0, 0.5, 1]);
    const a = niceAxis(0.000937, 0.000937);
    expect(a.domain[0]).toBeLessThan(0.000937);
    expect(a.domain[1]).toBeGreaterThan(0.000937);
    expect(stepAxis(100_000).ticks.length).toBeLessThanOrEqual(6);
  });

  it('ends a step axis at the last step shown, with round ticks inside it', async () => {
    const { stepAxis } = await import('../../src/ui/ticks');
    // A 12-step replay: the axis stops at 12, not at the next multiple of the tick step (15).
    expect(stepAxis(12)).toEqual({ domain: [0, 12], ticks: [0, 5, 10] });
    expect(stepAxis(780)).toEqual({ domain: [0, 780], ticks: [0, 200, 400, 600] });
    expect(stepAxis(1000)).toEqual({ domain: [0, 1000], ticks: [0, 250, 500, 750, 1000] });
    // The first steps keep a short axis of their own rather than filling the plot with one point.
    expect(stepAxis(1)).toEqual({ domain: [0, 4], ticks: [0, 1, 2, 3, 4] });
    expect(stepAxis(0).domain).toEqual([0, 4]);
  });
});

describe('SeriesStore views of long runs (incremental min/max buckets)', () => {
  it('keep first, last and extremes, in step order, at most MAX_DISPLAY_POINTS', () => {
    const store = new SeriesStore();
    const { ys } = noisySeries(100_000, 7);
    ys[12_345] = 99;
    ys[98_765] = -99;
    ys[500] = NaN;
    for (let start = 0; start < 100_000; start += 777) {
      const steps = Array.from({ length: Math.min(777, 100_000 - start) }, (_, i) => start + i + 1);
      const b = batch(1, steps);
      b.columns.loss = Float64Array.from(steps, (s) => ys[s - 1]);
      store.append(b);
    }
    const pts = store.view('loss');
    expect(pts.length).toBeLessThanOrEqual(MAX_DISPLAY_POINTS);
    expect(pts.length).toBeGreaterThan(MAX_DISPLAY_POINTS * 0.9);
    expect(pts[0]).toEqual({ x: 1, y: ys[0] });
    expect(pts.at(-1)).toEqual({ x: 100_000, y: ys[99_999] });
    expect(pts).toContainEqual({ x: 12_346, y: 99 });
    expect(pts).toContainEqual({ x: 98_766, y: -99 });
    for (let i = 1; i < pts.length; i++) expect(pts[i].x).toBeGreaterThan(pts[i - 1].x);
    for (const p of pts) expect(p.y).toBe(ys[p.x - 1]);
    expect(Object.isFrozen(pts)).toBe(true);
    // Every stretch of the run is represented.
    const gaps = pts.slice(1).map((p, i) => p.x - pts[i].x);
    expect(Math.max(...gaps)).toBeLessThan(100_000 / 50);
  });

  it('a view costs O(display points), not O(length)', () => {
    const store = new SeriesStore();
    const appendMs = cpuMs(() => {
      for (let start = 1; start <= 1_000_000; start += 10_000) store.append(batch(1, Array.from({ length: 10_000 }, (_, i) => start + i)));
    });
    expect(store.length).toBe(1_000_000);
    // Appending is O(new points): about a microsecond per step for all the statistics.
    expect(appendMs / 1_000_000).toBeLessThan(0.02);
    store.view('loss');
    const viewMs = cpuMs(() => {
      for (let r = 0; r < 10; r++) store.view('loss');
    });
    expect(viewMs / 10).toBeLessThan(10);
    expect(store.view('loss').length).toBeLessThanOrEqual(MAX_DISPLAY_POINTS);
  });

  it('shows every point of a short run', () => {
    const store = new SeriesStore();
    store.append(batch(1, Array.from({ length: 700 }, (_, i) => i + 1)));
    expect(store.view('loss').length).toBe(700);
    store.append(batch(1, Array.from({ length: 1300 }, (_, i) => i + 701)));
    expect(store.view('loss').length).toBeLessThanOrEqual(MAX_DISPLAY_POINTS);
  });
});

/** A run as the Worker reports it: losses that fall, a queue of 8 keys a step filling up to K. */
function trainingBatches(runId: number, steps: number, { queue = 32, batch = 8, lossAt = (s: number) => 4 - s / 10 } = {}): StatsBatch[] {
  const out: StatsBatch[] = [];
  for (let from = 1; from <= steps; from += 3) {
    const ss = Array.from({ length: Math.min(3, steps - from + 1) }, (_, i) => from + i);
    const b = batch0(runId, ss);
    b.columns.loss = Float64Array.from(ss, lossAt);
    b.columns.negatives = Float64Array.from(ss, (s) => Math.min(queue, (s - 1) * batch));
    b.columns.contrastiveAccuracy = Float64Array.from(ss, (s) => (s % 2 ? 0.25 : 0.75));
    out.push(b);
  }
  return out;
}
const batch0 = batch;

describe('smoothing (TensorBoard: debiased EMA, β from 0 to 0.99)', () => {
  it('smooths the loss, the loss ÷ chance and the accuracy with the store’s β, and recomputes them when β changes', () => {
    const store = new SeriesStore();
    store.setSmoothing(0.5);
    for (const b of trainingBatches(1, 6)) store.append(b);
    // loss 3.9, 3.8, …: debiased EMA with β 0.5 at step 2 = (0.5·0.5·3.9 + 0.5·3.8) / (1 − 0.25).
    expect(store.columns.lossSmoothed.at(1)).toBeCloseTo((0.25 * 3.9 + 0.5 * 3.8) / 0.75, 12);
    // Accuracy alternates 0.25 / 0.75; its smoothed line stays between.
    expect(store.columns.accuracySmoothed.at(1)).toBeCloseTo((0.25 * 0.25 + 0.5 * 0.75) / 0.75, 12);
    const before = store.version;
    store.setSmoothing(0);
    expect(store.version).toBeGreaterThan(before);
    expect(Array.from(store.columns.lossSmoothed.values())).toEqual(Array.from(store.columns.loss.values()));
    store.setSmoothing(0.99);
    const ema = new Ema(0.99);
    const expected = Array.from(store.columns.loss.values(), (v) => ema.next(v));
    Array.from(store.columns.lossSmoothed.values()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    // Batches after the change go on with the same average.
    store.append(trainingBatches(1, 9).at(-1)!);
    ema.next(4 - 0.7);
    ema.next(4 - 0.8);
    expect(store.columns.lossSmoothed.at(8)).toBeCloseTo(ema.next(4 - 0.9), 12);
    // The view (what the chart draws) follows the recomputed column.
    expect(store.view('lossSmoothed').at(-1)!.y).toBeCloseTo(store.columns.lossSmoothed.at(8), 12);
    store.setSmoothing(5);
    expect(store.smoothing).toBe(0.99);
  });
});

describe('loss ÷ chance', () => {
  it('divides the loss by ln(n + 1) of the step’s negatives, and is undefined with no negatives', () => {
    const store = new SeriesStore();
    for (const b of trainingBatches(1, 6, { queue: 16 })) store.append(b);
    // Negatives 0, 8, 16, 16, …; loss 3.9, 3.8, 3.7, …
    expect(store.columns.lossRatio.at(0)).toBeNaN();
    expect(store.columns.lossRatio.at(1)).toBeCloseTo(3.8 / Math.log(9), 12);
    expect(store.columns.lossRatio.at(2)).toBeCloseTo(3.7 / Math.log(17), 12);
    expect(store.columns.chanceLoss.at(2)).toBeCloseTo(Math.log(17), 12);
    // A change of K moves the loss and its chance level together: the ratio stays where it was.
    const k = new SeriesStore();
    const batches = trainingBatches(1, 4, { queue: 4096, batch: 4096, lossAt: () => 0.8 * Math.log(4097) });
    batches.push(...trainingBatches(1, 7, { queue: 16, batch: 16, lossAt: () => 0.8 * Math.log(17) }).slice(1));
    for (const b of batches) k.append(b);
    expect(k.columns.loss.at(3)).toBeCloseTo(6.65, 2);
    expect(k.columns.loss.at(4)).toBeCloseTo(2.27, 2);
    expect(k.columns.lossRatio.at(3)).toBeCloseTo(0.8, 12);
    expect(k.columns.lossRatio.at(4)).toBeCloseTo(0.8, 12);
  });
});

describe('markers', () => {
  it('one marker per step, naming every parameter changed at it, even when the changes came in separate batches', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2], { paramChanges: [{ runId: 1, fromStep: 3, params: { momentum: 0 } }] }));
    store.append(batch(1, [], { paramChanges: [{ runId: 1, fromStep: 3, params: { queueSize: 64 } }] }));
    store.append(batch(1, [3, 4], { paramChanges: [{ runId: 1, fromStep: 5, params: { temperature: 0.1 } }] }));
    expect(store.markers).toEqual([
      { runId: 1, fromStep: 3, params: { momentum: 0, queueSize: 64 } },
      { runId: 1, fromStep: 5, params: { temperature: 0.1 } },
    ]);
  });

  it('after a restore of the last good state, keeps the markers up to the restored step and drops those of the discarded steps', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2], { paramChanges: [{ runId: 1, fromStep: 2, params: { momentum: 0.9 } }] }));
    store.append(batch(1, [3, 4], { paramChanges: [{ runId: 1, fromStep: 4, params: { queueSize: 64 } }] }));
    store.append(batch(1, [5, 6], { paramChanges: [{ runId: 1, fromStep: 6, params: { learningRate: 5 } }] }));
    // Step 6 went wrong; the last good state is step 4: the Worker replays the chart up to it as run 2,
    // and the knob changed since (set again on the restored state) comes as run 2's own marker.
    store.keepMarkersThrough(4);
    store.append(batch(2, [1, 2, 3, 4]));
    store.append(batch(2, [], { paramChanges: [{ runId: 2, fromStep: 5, params: { learningRate: 0.03 } }] }));
    expect(store.length).toBe(4);
    expect(store.markers).toEqual([
      { runId: 2, fromStep: 2, params: { momentum: 0.9 } },
      { runId: 2, fromStep: 4, params: { queueSize: 64 } },
      { runId: 2, fromStep: 5, params: { learningRate: 0.03 } },
    ]);
    // Any other new run (Reset, a resumed save) starts without markers, as before.
    store.append(batch(3, [1]));
    expect(store.markers).toEqual([]);
  });

  it('markers sent again with a restored run (its checkpoint keeps them) are held once, in step order', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2], { paramChanges: [{ runId: 1, fromStep: 2, params: { momentum: 0.9 } }] }));
    store.append(batch(1, [3, 4], { paramChanges: [{ runId: 1, fromStep: 4, params: { queueSize: 64 } }] }));
    store.keepMarkersThrough(4);
    store.append(
      batch(2, [1, 2, 3, 4], {
        paramChanges: [
          { runId: 2, fromStep: 2, params: { momentum: 0.9 } },
          { runId: 2, fromStep: 3, params: { temperature: 0.1 } },
          { runId: 2, fromStep: 4, params: { queueSize: 64 } },
        ],
      }),
    );
    expect(store.markers).toEqual([
      { runId: 2, fromStep: 2, params: { momentum: 0.9 } },
      { runId: 2, fromStep: 3, params: { temperature: 0.1 } },
      { runId: 2, fromStep: 4, params: { queueSize: 64 } },
    ]);
  });

  it('a finished run from its columns (a saved run, an experiment\'s run) has the markers of its changes', () => {
    const columns = batch(1, [1, 2, 3]).columns;
    const store = SeriesStore.fromColumns(columns, 3, [
      { fromStep: 3, params: { learningRate: 0.01 } },
      { fromStep: 2, params: { momentum: 0.5, queueSize: 64 } },
    ]);
    expect(Array.from(store.columns.step.values())).toEqual([1, 2, 3]);
    expect(store.markers.map((m) => [m.fromStep, m.params])).toEqual([
      [2, { momentum: 0.5, queueSize: 64 }],
      [3, { learningRate: 0.01 }],
    ]);
  });

  it('a restore that failed carries nothing into the next run', () => {
    const store = new SeriesStore();
    store.append(batch(1, [1, 2], { paramChanges: [{ runId: 1, fromStep: 2, params: { momentum: 0.9 } }] }));
    store.keepMarkersThrough(2);
    store.keepMarkersThrough(null);
    store.append(batch(2, [1]));
    expect(store.markers).toEqual([]);
  });
});

describe('log axis', () => {
  it('spans the positive range with decades (and 2×, 5× over few decades)', () => {
    expect(logAxis(0.3, 7)).toEqual({ domain: [0.2, 10], ticks: [0.2, 0.5, 1, 2, 5, 10] });
    expect(logAxis(0.002, 8).ticks).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(logAxis(0, 5).domain[0]).toBeGreaterThan(0);
  });
});

describe('CSV and JSON export', () => {
  function runs(): { current: SeriesStore; overlay: RunOverlay } {
    const current = new SeriesStore();
    for (const b of trainingBatches(1, 5)) current.append(b);
    const other = new SeriesStore();
    for (const b of trainingBatches(7, 3, { lossAt: (s) => 5 - s })) other.append(b);
    const overlay: RunOverlay = { id: 'saved-1', label: 'm = 0.9', colour: OVERLAY_COLOURS[0], series: other, knn: [{ x: 3, y: 0.31 }] };
    return { current, overlay };
  }

  it('has a column per series and a row per step, with the store’s numbers', () => {
    const { current, overlay } = runs();
    const table = seriesTable([{ label: null, series: current }, { label: overlay.label, series: overlay.series, knn: overlay.knn }]);
    expect(table.columns.length).toBe(1 + EXPORT_FIELDS.length + EXPORT_FIELDS.length + 1);
    expect(table.columns.slice(0, 3)).toEqual(['step', 'epoch', 'imagesSeen']);
    expect(table.columns).toContain('loss');
    expect(table.columns).toContain('lossSmoothed');
    expect(table.columns).toContain('lossRatio');
    expect(table.columns).toContain('m = 0.9: loss');
    expect(table.columns.at(-1)).toBe('m = 0.9: knnAccuracy');
    expect(table.rows.map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);

    const csv = toCsv(table).trimEnd().split('\r\n');
    expect(csv.length).toBe(1 + 5);
    const header = csv[0].split(',');
    expect(header).toEqual(table.columns);
    const loss = header.indexOf('loss');
    const otherLoss = header.indexOf('m = 0.9: loss');
    const cells = csv.slice(1).map((line) => line.split(','));
    for (const row of cells) expect(row.length).toBe(header.length);
    expect(cells.map((r) => Number(r[loss]))).toEqual([3.9, 3.8, 3.7, 3.6, 3.5]);
    expect(cells.map((r) => r[otherLoss])).toEqual(['4', '3', '2', '', '']);
    expect(cells[2][header.indexOf('m = 0.9: knnAccuracy')]).toBe('0.31');
    expect(Number(cells[4][header.indexOf('lossSmoothed')])).toBe(current.columns.lossSmoothed.at(4));
    expect(cells[0][header.indexOf('lossRatio')]).toBe('NaN');

    const json = JSON.parse(toJson(table)) as Record<string, (number | null)[]>;
    expect(Object.keys(json)).toEqual(table.columns);
    for (const column of Object.values(json)) expect(column.length).toBe(5);
    expect(json.step).toEqual([1, 2, 3, 4, 5]);
    expect(json.loss).toEqual([3.9, 3.8, 3.7, 3.6, 3.5]);
    expect(json['m = 0.9: loss']).toEqual([4, 3, 2, null, null]);
    expect(json.lossRatio[0]).toBeNull();
  });

  it('quotes names with commas and keeps runs of the same name apart', () => {
    const { current, overlay } = runs();
    const table = seriesTable([
      { label: 'K = 4,096', series: current },
      { label: 'K = 4,096', series: overlay.series },
    ]);
    expect(new Set(table.columns).size).toBe(table.columns.length);
    expect(table.columns).toContain('K = 4,096 (2): loss');
    expect(toCsv(table).split('\r\n')[0]).toContain('"K = 4,096: loss"');
  });
});
