/**
 * The charts' markers (the parameter changes of a run) are saved with the run: a saved run resumed
 * in a fresh service (a reloaded page) shows them again, on its own charts and drawn beside
 * another run; a run saved before markers were kept still loads, without them.
 */
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { SeriesStore } from '../../src/ui/series';
import { seriesOfCurves } from '../../src/ui/useOverlays';
import type { StatsBatch } from '../../src/worker/types';
import { TrainingService } from '../../src/worker/training';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

async function service(store: MemoryRunStore): Promise<{ service: TrainingService; batches: StatsBatch[] }> {
  const batches: StatsBatch[] = [];
  const s = new TrainingService();
  await s.init((b) => batches.push(b), { backends: ['wasm'] });
  s.useRunStore(store);
  return { service: s, batches };
}

async function savedAt(s: TrainingService, step: number): Promise<void> {
  for (let i = 0; i < 500 && s.status().save?.step !== step; i++) await new Promise((r) => setTimeout(r, 10));
  expect(s.status().save).toMatchObject({ step, error: null });
}

/** What the page's charts hold after these batches. */
function chartsOf(batches: StatsBatch[]): SeriesStore {
  const store = new SeriesStore();
  for (const b of batches) store.append(b);
  return store;
}

describe('markers in saved runs', () => {
  const services: TrainingService[] = [];
  afterAll(() => services.forEach((s) => s.dispose()));

  it('a run with two changes, saved and resumed in a fresh service, shows both markers again, each naming every changed parameter', async () => {
    const store = new MemoryRunStore();
    const { service: first, batches: before } = await service(store);
    services.push(first);
    await first.configure(TINY_SETUP);
    await first.step();
    await first.setParams({ momentum: 0.9, queueSize: 64 });
    await first.step();
    await first.step();
    await first.setParams({ temperature: 0.1 });
    await first.step();
    await savedAt(first, 4);
    const expected = [
      { fromStep: 2, params: { momentum: 0.9, queueSize: 64 } },
      { fromStep: 4, params: { temperature: 0.1 } },
    ];
    expect(chartsOf(before).markers.map(({ fromStep, params }) => ({ fromStep, params }))).toEqual(expected);

    const [saved] = await first.savedRuns();
    const { service: fresh, batches } = await service(store);
    services.push(fresh);
    await fresh.configure(TINY_SETUP);
    await fresh.resumeSaved(saved.id);
    const charts = chartsOf(batches);
    expect(charts.runId).toBe(fresh.status().runId);
    expect(Array.from(charts.columns.step.values())).toEqual([1, 2, 3, 4]);
    expect(charts.markers).toEqual(expected.map((m) => ({ runId: charts.runId, ...m })));

    // A change after the resume adds its marker; the next save keeps all three.
    await fresh.setParams({ learningRate: 0.01 });
    await fresh.step();
    await savedAt(fresh, 5);
    const [resaved] = await fresh.savedRuns();
    const curves = await fresh.savedRunCurves(resaved.id);
    expect(curves.changes).toEqual([...expected, { fromStep: 5, params: { learningRate: 0.01 } }]);
    // Drawn beside another run, the saved run's store has its markers too.
    expect(seriesOfCurves(curves).markers.map((m) => m.fromStep)).toEqual([2, 4, 5]);
  });

  it('a run saved before markers were kept loads as before, with none', async () => {
    const store = new MemoryRunStore();
    const { service: first } = await service(store);
    services.push(first);
    await first.configure(TINY_SETUP);
    await first.setParams({ momentum: 0.5 });
    await first.step();
    await savedAt(first, 1);
    const bytes = await first.checkpoint();
    // The same file without the app's record of changes (what an older version wrote).
    const files = unzipSync(bytes);
    const manifest = JSON.parse(strFromU8(files['manifest.json'])) as { client: { app: Record<string, unknown> } };
    expect(manifest.client.app.changes).toEqual([{ fromStep: 1, params: { momentum: 0.5 } }]);
    delete manifest.client.app.changes;
    const old = zipSync({ ...files, 'manifest.json': strToU8(JSON.stringify(manifest)) });

    const { service: fresh, batches } = await service(new MemoryRunStore());
    services.push(fresh);
    await fresh.configure(TINY_SETUP);
    await fresh.resume(old, 'old-run.zip');
    expect(fresh.status().step).toBe(1);
    const charts = chartsOf(batches);
    expect(Array.from(charts.columns.step.values())).toEqual([1]);
    expect(charts.markers).toEqual([]);
  });
});
