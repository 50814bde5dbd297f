import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Charts, markerLabel, markerRows } from '../../src/ui/components/Charts';
import { KnnChart } from '../../src/ui/components/KnnChart';
import { defaultLearningRate } from '../../src/ui/scales';
import { OVERLAY_COLOURS, SeriesStore, type RunOverlay } from '../../src/ui/series';
import type { KnnResult } from '../../src/worker/evaluationTypes';
import { STAT_FIELDS, type ParamChange, type StatField, type StatsBatch } from '../../src/worker/types';

function batch(runId: number, steps: number[], loss: (s: number) => number, paramChanges: ParamChange[] = []): StatsBatch {
  const columns = {} as Record<StatField, Float64Array>;
  for (const f of STAT_FIELDS) columns[f] = Float64Array.from(steps, (s) => (f === 'step' ? s : f === 'loss' ? loss(s) : f === 'negatives' ? 16 : f === 'contrastiveAccuracy' ? 0.5 : 0.1));
  return {
    status: { state: 'running', runId, step: steps.at(-1) ?? 0, elapsedMs: 0, stepBudget: 0, error: null },
    count: steps.length,
    columns,
    paramChanges,
    queue: { capacity: 16, filled: 16, segmentFill: new Float32Array(16), segmentAge: new Float32Array(16), writeSegment: 0 },
    params: { momentum: 0.99, queueSize: 16, temperature: 0.2, learningRate: 0.03 },
  };
}

function storeOf(runId: number, steps: number, loss: (s: number) => number, changes: ParamChange[] = []): SeriesStore {
  const store = new SeriesStore();
  store.append(batch(runId, Array.from({ length: steps }, (_, i) => i + 1), loss, changes));
  return store;
}

describe('marker labels', () => {
  it('name every parameter of a change', () => {
    expect(markerLabel({ runId: 1, fromStep: 3, params: { momentum: 0, queueSize: 64 } })).toBe('m 0, K 64');
    expect(markerLabel({ runId: 1, fromStep: 3, params: { momentum: 0.999, queueSize: 16384, temperature: 0.07, learningRate: 0.03 } })).toBe('m 0.999, K 16.4k, T 0.07, lr 0.03');
    // Batch 8's default rate as the slider shows it: a plain decimal, not 9.4e-4.
    expect(markerLabel({ runId: 1, fromStep: 3, params: { learningRate: defaultLearningRate(8) } })).toBe('lr 0.000937');
  });

  it('stack in rows where they would overlap, and leave out only what three rows cannot hold', () => {
    const mk = (fromStep: number): ParamChange => ({ runId: 1, fromStep, params: { queueSize: 64 } });
    const markers = [mk(10), mk(12), mk(14), mk(16), mk(80)];
    const places = markerRows(markers, [0, 100]);
    expect(markers.map((m) => places.get(m)?.row)).toEqual([0, 1, 2, undefined, 0]);
  });

  it('go left of a line near the right edge, where a label right of it would be cut off', () => {
    // 240 px of plot: "m 0, K 1,024" is about 73 px wide; at step 100 of 100 it would start at the edge.
    const change = (fromStep: number): ParamChange => ({ runId: 1, fromStep, params: { momentum: 0, queueSize: 1024 } });
    const [early, last] = [change(10), change(100)];
    const places = markerRows([early, last], [0, 100]);
    expect(places.get(early)).toEqual({ row: 0, leftOfLine: false });
    expect(places.get(last)).toEqual({ row: 0, leftOfLine: true });
    // A label longer than the room on either side stays right of its line (the left edge would cut more).
    const long: ParamChange = { runId: 1, fromStep: 5, params: { momentum: 0.999, queueSize: 16384, temperature: 0.07, learningRate: 0.03 } };
    expect(markerRows([long], [0, 10]).get(long)).toEqual({ row: 0, leftOfLine: false });
  });
});

describe('Charts', () => {
  it('before any step, says what each chart will show and that Start begins it', () => {
    const html = renderToStaticMarkup(createElement(Charts, { store: new SeriesStore(), version: 0, queueSize: 16, batchSize: 8 }));
    // The loss, accuracy, similarity, queue, key-encoder, throughput and learning-rate charts.
    expect(html).toContain('data-testid="chart-empty-loss"');
    expect(html.match(/Press Start to train/g)?.length).toBe(7);
    // The plots are there (mounted once, not on the first step) but hidden: no placeholder axes.
    const plots = html.match(/<div[^>]*role="slider"[^>]*>/g) ?? [];
    expect(plots.length).toBe(7);
    for (const tag of plots) expect(tag).toContain('visibility:hidden');
  });

  it('reads out the learning rate as a plain decimal, as the slider does (batch 8: 0.000937, not 9.37e-4)', () => {
    const b = batch(1, [1, 2, 3], () => 3);
    b.columns.learningRate.fill(defaultLearningRate(8));
    const store = new SeriesStore();
    store.append(b);
    const html = renderToStaticMarkup(createElement(Charts, { store, version: store.version, queueSize: 16, batchSize: 8 }));
    expect(html).toContain('lr <b>0.000937</b>');
    expect(html).not.toMatch(/\de-\d/);
  });

  it('draws overlaid runs in their colours, in the legend and the read-out of the loss, accuracy and similarity charts', () => {
    const store = storeOf(1, 5, (s) => 2.8 - s / 10, [{ runId: 1, fromStep: 4, params: { queueSize: 16, momentum: 0 } }]);
    const overlays: RunOverlay[] = Array.from({ length: 6 }, (_, i) => ({
      id: `run-${i}`,
      label: `m = 0.${i}`,
      colour: OVERLAY_COLOURS[i],
      series: storeOf(10 + i, 5, (s) => 2.8 - s / (20 + i)),
      knn: [{ x: 5, y: 0.2 + i / 100 }],
    }));
    expect(new Set(OVERLAY_COLOURS).size).toBeGreaterThanOrEqual(8);
    const html = renderToStaticMarkup(createElement(Charts, { store, version: store.version, queueSize: 16, batchSize: 8, overlays }));
    for (const o of overlays) {
      // Legend and read-out of the loss chart (smoothed loss), accuracy, and both similarities.
      expect(html.split(`data-overlay="${o.id}-lossSmoothed"`).length - 1).toBe(2);
      expect(html.split(`data-overlay="${o.id}-accuracySmoothed"`).length - 1).toBe(2);
      expect(html.split(`data-overlay="${o.id}-meanNegativeSimilarity"`).length - 1).toBe(2);
      expect(html).toContain(o.colour);
    }
    // The read-out at the last step: run m = 0.3's smoothed loss there, as its store has it.
    const expected = overlays[3].series.columns.lossSmoothed.at(4);
    expect(html).toContain(`m = 0.3 <b>${Number(expected.toPrecision(4))}</b>`);
    // The queue chart draws no overlay.
    expect(html).not.toContain('run-0-queueFilled');
  });
});

describe('KnnChart', () => {
  it('names each overlaid run in the legend and gives its accuracy at the last kNN step in the read-out', () => {
    const overlays: RunOverlay[] = [
      { id: 'a', label: 'K = 256', colour: OVERLAY_COLOURS[0], series: new SeriesStore(), knn: [{ x: 100, y: 0.215 }, { x: 200, y: 0.3125 }] },
      { id: 'b', label: 'K = 4096', colour: OVERLAY_COLOURS[1], series: new SeriesStore(), knn: [{ x: 100, y: 0.25 }] },
    ];
    const html = renderToStaticMarkup(createElement(KnnChart, { results: [], overlays }));
    expect(html).toContain('data-overlay="a"');
    expect(html).toContain('data-overlay="b"');
    expect(html).toContain('last kNN at step 200');
    expect(html).toContain('K = 256 <b>31.3%</b>');
    // Run b has no result at step 200.
    expect(html).toContain('K = 4096 <b>–</b>');
    expect(renderToStaticMarkup(createElement(KnnChart, { results: [] }))).toContain('will appear here');
  });

  it("names its own line 'this run' beside overlays, or as told (a replay's is the recording's)", () => {
    const results: KnnResult[] = [
      { runId: 1, step: 200, accuracy: 0.4, perClass: [], classNames: ['a', 'b'], k: 20, t: 0.1, bankSize: 100, queryCount: 50, seconds: 1, trigger: 'monitor' },
    ];
    const overlays: RunOverlay[] = [{ id: 'probe', label: 'linear probe', colour: OVERLAY_COLOURS[1], series: new SeriesStore(), knn: [{ x: 200, y: 0.5 }] }];
    const plain = renderToStaticMarkup(createElement(KnnChart, { results, overlays }));
    expect(plain).toContain('this run <b>40.0%</b>');
    const replay = renderToStaticMarkup(createElement(KnnChart, { results, overlays, label: 'kNN (recorded)' }));
    expect(replay).toContain('kNN (recorded) <b>40.0%</b>');
    expect(replay).toContain('linear probe <b>50.0%</b>');
    expect(replay).not.toContain('this run');
  });
});
