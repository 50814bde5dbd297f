/**
 * The saved-runs list as a user comparing runs reads it: two runs of one setup told apart by their
 * parameters, and the save of the run in use not offered for drawing over itself.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { runParameters, SavedRuns } from '../../src/ui/components/SavedRuns';
import type { Training } from '../../src/ui/useTraining';
import { savedOverlaySources } from '../../src/ui/useOverlays';
import type { RunCurves } from '../../src/worker/experimentTypes';
import { STAT_FIELDS, type SavedRun, type StatField, type TrainingSetup } from '../../src/worker/types';

const PARAMS = { momentum: 0.99, queueSize: 4096, temperature: 0.2, learningRate: 0.03 };

function saved(runKey: string, step: number, params: Partial<typeof PARAMS> | null, seed = 1): SavedRun {
  return {
    id: `${runKey}@${step}`,
    runKey,
    savedAt: Date.UTC(2026, 10, 29, 12, step),
    step,
    preset: 'tiny',
    version: 'v2',
    batchSize: 8,
    dataset: 'synthetic',
    datasetName: 'Built-in shapes (train)',
    datasetSize: 1000,
    bytes: 2_200_000,
    lastKnn: null,
    ...(params ? { params: { ...PARAMS, ...params }, seed } : {}),
  };
}

/** A run's curves of `steps` steps, as the Worker reads them from a save. */
function curvesOf(setup: TrainingSetup, steps: number): RunCurves {
  const columns = Object.fromEntries(STAT_FIELDS.map((f) => [f, Float64Array.from({ length: steps }, (_, i) => (f === 'step' ? i + 1 : 1))])) as Record<StatField, Float64Array>;
  return { setup, count: steps, columns, knn: [] };
}

describe('saved runs told apart by their parameters', () => {
  it('shows m and K of every run, and T, the learning rate and the seed only where they differ among the runs listed', () => {
    const same = [saved('a', 2, { momentum: 0.9 }), saved('b', 2, { momentum: 0.99 })];
    expect([...runParameters(same).values()]).toEqual([
      ['m 0.9', 'K 4,096'],
      ['m 0.99', 'K 4,096'],
    ]);
    const runs = [saved('a', 2, { queueSize: 256, temperature: 0.07 }), saved('b', 2, { queueSize: 16384, learningRate: 0.06 }, 7), saved('old', 5, null)];
    const parts = runParameters(runs);
    expect(parts.get('a@2')).toEqual(['m 0.99', 'K 256', 'T 0.07', 'lr 0.03', 'seed 1']);
    expect(parts.get('b@2')).toEqual(['m 0.99', 'K 16,384', 'T 0.2', 'lr 0.06', 'seed 7']);
    // A save from before the list showed parameters has none to show.
    expect(parts.has('old@5')).toBe(false);
  });

  it('draws them in a column of the list, a dash for a save that did not keep them, and offers no tick for the run in use', () => {
    const runs = [saved('current', 3, { momentum: 0.99 }), saved('other', 2, { momentum: 0.9 }), saved('old', 5, null)];
    const training = {
      view: { status: { state: 'paused', runId: 1, step: 3, elapsedMs: 0, stepBudget: 0, error: null, runKey: 'current', save: { step: 3, savedAt: runs[0].savedAt, error: null } }, busy: null },
      savedRuns: runs,
      running: false,
    } as unknown as Training;
    const html = renderToStaticMarkup(createElement(SavedRuns, { training, shown: new Set(['current', 'other']), onShow: () => {} }));
    expect(html).toContain('>Parameters</th>');
    const cells = [...html.matchAll(/data-testid="saved-run-params">(.*?)<\/td>/g)].map((m) => m[1].replace(/<[^>]+>/g, ''));
    expect(cells).toEqual(['m 0.99 · K 4,096', 'm 0.9 · K 4,096', '–']);
    // One row, the run in use's own save, says so instead of a tick box; the two others can be ticked.
    expect(html.match(/data-testid="saved-run-current"[^>]*>this run</g)).toHaveLength(1);
    expect(html.match(/data-testid="saved-run-show"/g)).toHaveLength(2);
    const rows = html.split('data-testid="saved-run"').slice(1);
    expect(rows[0]).toContain('saved-run-current');
    expect(rows[0]).not.toContain('saved-run-show');
  });
});

describe('saved runs drawn beside the run in use', () => {
  it('draws the ticked runs whose curves have been read, never the save of the run in use itself', () => {
    const setup: TrainingSetup = { version: 'v2', preset: 'tiny', batchSize: 8, dataset: 'synthetic', datasetSize: 1000, stepBudget: 0, seed: 1, params: PARAMS };
    const runs = [saved('current', 3, {}), saved('other', 2, { momentum: 0.9 }), saved('unticked', 4, {}), saved('unread', 6, {})];
    const curves = { 'current@3': curvesOf(setup, 3), 'other@2': curvesOf({ ...setup, params: { ...PARAMS, momentum: 0.9 } }, 2), 'unticked@4': curvesOf(setup, 4) };
    const shown = new Set(['current', 'other', 'unread']);
    const sources = savedOverlaySources(runs, shown, curves, 'current');
    expect(sources.map((s) => [s.id, s.origin, s.curves.count])).toEqual([['other', 'saved, step 2', 2]]);
    // Before the Worker says which run is in use (or once it is another run), a ticked save is drawn.
    expect(savedOverlaySources(runs, shown, curves, undefined).map((s) => s.id)).toEqual(['current', 'other']);
    expect(savedOverlaySources(runs, shown, curves, 'a new run').map((s) => s.id)).toEqual(['current', 'other']);
  });
});

describe("the saved runs' buttons, as a screen reader names them", () => {
  const training = (runs: SavedRun[]) =>
    ({
      view: { status: { state: 'idle', runId: 1, step: 0, elapsedMs: 0, stepBudget: 0, error: null, runKey: 'new', save: null }, busy: null },
      savedRuns: runs,
      running: false,
    }) as unknown as Training;
  const names = (html: string, verb: string) => [...html.matchAll(new RegExp(`aria-label="(${verb} [^"]*)"`, 'g'))].map((m) => m[1]);

  it('tell two runs saved at the same step apart: by the name the user gave, else by setup and parameters', () => {
    const runs = [saved('a', 6, { momentum: 0.9 }), saved('b', 6, { momentum: 0.99 }), { ...saved('c', 6, { momentum: 0.99 }), name: 'K small' }];
    const html = renderToStaticMarkup(createElement(SavedRuns, { training: training(runs), shown: new Set<string>(), onShow: () => {} }));
    expect(names(html, 'Resume')).toEqual([
      'Resume the run saved at step 6: tiny on Built-in shapes (train) · MoCo v2 · batch 8 · m 0.9 · K 4,096',
      'Resume the run saved at step 6: tiny on Built-in shapes (train) · MoCo v2 · batch 8 · m 0.99 · K 4,096',
      'Resume the run saved at step 6: “K small”',
    ]);
    const deletes = names(html, 'Delete');
    expect(deletes).toHaveLength(3);
    expect(new Set(deletes).size).toBe(3);
    expect(new Set(names(html, 'Show')).size).toBe(3);
    // A save from before parameters were kept is named by its setup alone.
    const old = renderToStaticMarkup(createElement(SavedRuns, { training: training([saved('old', 5, null)]) }));
    expect(names(old, 'Delete')).toEqual(['Delete the run saved at step 5: tiny on Built-in shapes (train) · MoCo v2 · batch 8']);
  });
});
