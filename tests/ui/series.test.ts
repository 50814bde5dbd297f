import { describe, expect, it } from 'vitest';
import { STAT_FIELDS, type StatField, type StatsBatch } from '../../src/worker/types';
import { downsample, Ema, GrowableColumn, MAX_DISPLAY_POINTS, SeriesStore } from '../../src/ui/series';

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
    expect(stepAxis(12).domain[1]).toBeGreaterThanOrEqual(12);
    expect(stepAxis(100_000).ticks.length).toBeLessThanOrEqual(6);
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
