/**
 * A test page (served by Vite's dev server in tests/e2e/charts.test.ts): the training charts and
 * the kNN chart of a run with six other runs overlaid, each built from statistics batches as the
 * Worker sends them.
 */
import { createRoot } from 'react-dom/client';
import { Charts } from '../../../src/ui/components/Charts';
import { KnnChart } from '../../../src/ui/components/KnnChart';
import '../../../src/ui/global.css';
import { OVERLAY_COLOURS, SeriesStore, type RunOverlay } from '../../../src/ui/series';
import type { KnnResult } from '../../../src/worker/evaluationTypes';
import { STAT_FIELDS, type StatField, type StatsBatch } from '../../../src/worker/types';

const STEPS = 200;
const K = 256;

/** A run whose loss falls to `floor` of chance: the queue fills by 16 keys a step, then holds K. */
function run(runId: number, floor: number): SeriesStore {
  const store = new SeriesStore();
  for (let from = 1; from <= STEPS; from += 25) {
    const steps = Array.from({ length: 25 }, (_, i) => from + i);
    const columns = {} as Record<StatField, Float64Array>;
    for (const f of STAT_FIELDS) columns[f] = new Float64Array(steps.length);
    steps.forEach((s, i) => {
      const negatives = Math.min(K, (s - 1) * 16);
      const chance = Math.log(negatives + 1);
      const progress = 1 - Math.exp(-s / 60);
      columns.step[i] = s;
      columns.negatives[i] = columns.queueFilled[i] = negatives;
      columns.queueCapacity[i] = K;
      columns.loss[i] = Math.max(0, chance * (1 - (1 - floor) * progress) + 0.15 * Math.sin(s * 1.7 + runId));
      columns.contrastiveAccuracy[i] = Math.min(1, (1 / (negatives + 1)) + progress * (1 - floor) * 0.8 + 0.05 * Math.cos(s * 2.3 + runId));
      columns.meanPositiveSimilarity[i] = 0.2 + 0.6 * progress * (1 - floor);
      columns.meanNegativeSimilarity[i] = 0.05 - 0.04 * progress;
    });
    const batch: StatsBatch = {
      status: { state: 'running', runId, step: steps.at(-1)!, elapsedMs: 0, stepBudget: 0, error: null },
      count: steps.length,
      columns,
      paramChanges: from === 101 && runId === 1 ? [{ runId, fromStep: 101, params: { momentum: 0.9, queueSize: K } }] : [],
      queue: { capacity: K, filled: K, segmentFill: new Float32Array(16), segmentAge: new Float32Array(16), writeSegment: 0 },
      params: { momentum: 0.99, queueSize: K, temperature: 0.2, learningRate: 0.03 },
    };
    store.append(batch);
  }
  return store;
}

const current = run(1, 0.5);
const momenta = [0, 0.9, 0.99, 0.999, 0.9999, 0.5];
const overlays: RunOverlay[] = momenta.map((m, i) => ({
  id: `m${m}`,
  label: `m = ${m}`,
  colour: OVERLAY_COLOURS[i],
  series: run(2 + i, 0.55 + 0.06 * i),
  knn: [50, 100, 150, 200].map((s) => ({ x: s, y: 0.1 + (s / 200) * (0.3 - 0.03 * i) })),
}));
const classNames = Array.from({ length: 10 }, (_, c) => `class ${c}`);
const knn: KnnResult[] = [50, 100, 150, 200].map((step) => ({
  runId: 1,
  step,
  accuracy: 0.1 + (step / 200) * 0.35,
  perClass: [],
  classNames,
  k: 200,
  t: 0.1,
  bankSize: 1000,
  queryCount: 1000,
  seconds: 1,
  trigger: 'monitor',
}));

createRoot(document.getElementById('root')!).render(
  <>
    <Charts store={current} version={current.version} queueSize={K} batchSize={16} overlays={overlays} />
    <div className="card" style={{ marginTop: 8, maxWidth: 480 }}>
      <KnnChart results={knn} overlays={overlays} />
    </div>
  </>,
);
