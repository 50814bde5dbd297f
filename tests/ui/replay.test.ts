/**
 * The replay's queue ring for the diagram, rebuilt from a recorded step alone: the same ring as the
 * Worker draws from its queue's slots, here from a queue written batch by batch.
 */
import { readFileSync } from 'node:fs';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { decodeRecording, type Recording } from '../../src/train/recording';
import { recordedPace } from '../../src/ui/components/ReplayPanel';
import { StatusBar } from '../../src/ui/components/StatusBar';
import { SERIES_FIELDS } from '../../src/ui/series';
import type { Training } from '../../src/ui/useTraining';
import { positionOfSteps, queueOf, recordedEvaluation, replayLink, ReplayPlayhead, type PlayedAt, type ReplayShown } from '../../src/ui/useReplay';
import { ringOfSlots } from '../../src/worker/queueSnapshot';
import { STAT_FIELDS, type StepRecord } from '../../src/worker/types';
import { REPO_ROOT } from '../support/helpers';

/** A queue of `capacity` slots after `steps` steps of `batch` keys each: the step that wrote each slot (−1 empty). */
function writtenSlots(capacity: number, batch: number, steps: number): { slots: Int32Array; filled: number } {
  const slots = new Int32Array(capacity).fill(-1);
  let pointer = 0;
  let filled = 0;
  for (let step = 1; step <= steps; step++) {
    for (let k = 0; k < batch; k++) {
      slots[pointer] = step;
      pointer = (pointer + 1) % capacity;
      filled = Math.min(capacity, filled + 1);
    }
  }
  return { slots, filled };
}

function record(step: number, queueFilled: number, queueCapacity: number): StepRecord {
  const r = Object.fromEntries(STAT_FIELDS.map((f) => [f, 0])) as StepRecord;
  return { ...r, step, queueFilled, queueCapacity };
}

describe('the replay queue ring', () => {
  for (const [capacity, batch, steps] of [
    [64, 8, 3],
    [64, 8, 10],
    [4096, 128, 31],
    [4096, 128, 780],
    [300, 128, 7],
  ]) {
    it(`K ${capacity}, batch ${batch}, after step ${steps}: the Worker's ring`, () => {
      const { slots, filled } = writtenSlots(capacity, batch, steps);
      const expected = ringOfSlots(slots, filled);
      const ring = queueOf(record(steps, filled, capacity), batch);
      expect(ring.filled).toBe(expected.filled);
      expect(ring.writeSegment).toBe(expected.writeSegment);
      expect(Array.from(ring.segmentFill)).toEqual(Array.from(expected.segmentFill));
      expect(Array.from(ring.segmentAge)).toEqual(Array.from(expected.segmentAge));
    });
  }
});

/** The tiny classroom recording (12 steps, kNN and probe at steps 0, 4, 8, 12), with two parameter changes added. */
function recording(): Recording {
  const r = decodeRecording(new Uint8Array(readFileSync(`${REPO_ROOT}/tests/fixtures/replay-tiny.zip`)), 'replay-tiny.zip');
  r.manifest.changes = [
    { fromStep: 3, params: { momentum: 0.9 } },
    { fromStep: 9, params: { temperature: 0.1, learningRate: 0.01 } },
  ];
  return r;
}

describe('the replay playhead (one move per tick, only the new part derived)', () => {
  it('played in ticks of 100 recorded ms, rebuilds the queue only at ticks where a step passed and the kNN list only where an evaluation did, and ends as the whole run', () => {
    const r = recording();
    const head = new ReplayPlayhead(r);
    const moves: PlayedAt[] = [head.moveTo(0)];
    for (let position = 100; position < head.length + 100; position += 100) moves.push(head.moveTo(Math.min(head.length, position)));
    expect(moves.length).toBeGreaterThan(500);

    let stepsPassed = 0;
    let queues = 0;
    let knnLists = 0;
    let probeLists = 0;
    for (let i = 1; i < moves.length; i++) {
      const [before, after] = [moves[i - 1], moves[i]];
      if (after.shownSteps !== before.shownSteps) stepsPassed++;
      if (after.queue !== before.queue) queues++;
      if (after.knn !== before.knn) knnLists++;
      if (after.probes !== before.probes) probeLists++;
      // Nothing new: the very same objects, so what draws them need not redraw.
      if (after.shownSteps === before.shownSteps) expect([after.last, after.queue, after.version]).toEqual([before.last, before.queue, before.version]);
    }
    // The 12 steps come in 4 bursts of 3 close together, so fewer ticks than steps see one pass.
    expect(stepsPassed).toBeGreaterThanOrEqual(4);
    expect(stepsPassed).toBeLessThanOrEqual(12);
    expect(queues).toBe(stepsPassed);
    // kNN and probe at steps 4, 8, 12 come after the start (step 0's is at 7.5 s, after the first tick).
    expect(knnLists).toBe(4);
    expect(probeLists).toBe(4);

    const end = moves.at(-1)!;
    expect(end.shownSteps).toBe(12);
    expect(end.last?.step).toBe(12);
    expect(end.knnPoints.map((p) => p.x)).toEqual([0, 4, 8, 12]);
    expect(end.probes.map((p) => p.x)).toEqual([0, 4, 8, 12]);
    expect(end.queue).toEqual(queueOf(end.last!, r.manifest.setup.batchSize));
    // The same store as one fed the whole run at once, markers included.
    const whole = new ReplayPlayhead(recording());
    whole.moveTo(whole.length);
    for (const f of SERIES_FIELDS) expect(Array.from(head.store.columns[f].values())).toEqual(Array.from(whole.store.columns[f].values()));
    expect(head.store.markers.map((m) => [m.fromStep, m.params])).toEqual([
      [3, { momentum: 0.9 }],
      [9, { temperature: 0.1, learningRate: 0.01 }],
    ]);
  });

  it('moved back, starts the store again and forgets what came later', () => {
    const r = recording();
    const head = new ReplayPlayhead(r);
    head.moveTo(head.length);
    const back = head.moveTo(r.columns.elapsedMs[4]);
    expect(back.shownSteps).toBe(5);
    expect(Array.from(head.store.columns.step.values())).toEqual([1, 2, 3, 4, 5]);
    expect(back.last?.step).toBe(5);
    expect(back.knnPoints.map((p) => p.x)).toEqual([0, 4]);
    expect(back.probes.map((p) => p.x)).toEqual([0, 4]);
    expect(head.store.markers.map((m) => m.fromStep)).toEqual([3]);
  });
});

describe('what the recorded run did between its steps', () => {
  it('names the evaluation the charts stand still for (at 1× the fixture spends 7 s on the untrained kNN before its first step), and nothing while it trained', () => {
    const { manifest, columns } = recording();
    const [firstKnn] = manifest.knn;
    // The fixture: step 1 comes after the untrained network's kNN and probe.
    expect(columns.elapsedMs[0]).toBeGreaterThan(firstKnn.elapsedMs);
    expect(recordedEvaluation(manifest, 1000)).toBe('scoring kNN at step 0 (the untrained network): no training meanwhile');
    const probe = manifest.probes[1];
    expect(recordedEvaluation(manifest, probe.elapsedMs - 500)).toBe(`training the linear probe at step ${probe.step}: no training meanwhile`);
    // Between two steps of training, nothing is said.
    const trainingAt = (columns.elapsedMs[5] + columns.elapsedMs[6]) / 2;
    expect(columns.elapsedMs[6] - columns.elapsedMs[5]).toBeLessThan(1000);
    expect(recordedEvaluation(manifest, trainingAt)).toBeNull();
  });
});

describe('scrubbing a replay by its recorded steps', () => {
  it('goes to the moment each step was taken: before the first, at step n, and to the end (its last evaluations included) at the last', () => {
    const r = recording();
    const head = new ReplayPlayhead(r);
    const elapsed = r.columns.elapsedMs;
    expect(positionOfSteps(elapsed, head.length, 0)).toBe(0);
    const atSix = head.moveTo(positionOfSteps(elapsed, head.length, 6));
    expect(atSix.shownSteps).toBe(6);
    expect(atSix.last?.step).toBe(6);
    // The last step was followed by a kNN and a probe: the end is after it, and shows them.
    expect(head.length).toBeGreaterThan(elapsed[elapsed.length - 1]);
    const end = head.moveTo(positionOfSteps(elapsed, head.length, elapsed.length));
    expect(end.position).toBe(head.length);
    expect(end.knn.at(-1)?.step).toBe(12);
    // Back again: the store starts over and holds the steps up to there only.
    expect(head.moveTo(positionOfSteps(elapsed, head.length, 3)).shownSteps).toBe(3);
  });
});

describe('a link to the replay shown, for students', () => {
  it('opens the app on the same recording: its path on the app’s own site, the app’s page without its other options', () => {
    expect(replayLink('http://localhost:5173/class/replay-tiny.zip', 'http://localhost:5173/?backend=cpu&replay=class/replay-tiny.zip')).toBe('http://localhost:5173/?replay=%2Fclass%2Freplay-tiny.zip');
    expect(replayLink('replay/run.zip', 'https://school.example/moco/index.html')).toBe('https://school.example/moco/index.html?replay=%2Fmoco%2Freplay%2Frun.zip');
    // On another site (which the built app's policy refuses to fetch) the address stays whole, so the refusal names it.
    expect(replayLink('https://elsewhere.example/r.zip', 'https://school.example/moco/')).toBe('https://school.example/moco/?replay=https%3A%2F%2Felsewhere.example%2Fr.zip');
  });
});

describe("the replay's two speeds, told apart", () => {
  it("the banner names the whole run's average, the status line the recent steps' mean: two figures, each labelled", () => {
    const recording = decodeRecording(new Uint8Array(readFileSync(`${REPO_ROOT}/tests/fixtures/replay-tiny.zip`)), 'replay-tiny.zip');
    const { made } = recording.manifest;
    const playhead = new ReplayPlayhead(recording);
    const shown: ReplayShown = { recording, url: null, store: playhead.store, length: playhead.length, playing: false, speed: 1, final: { state: 'recording' }, ...playhead.moveTo(playhead.length) };
    const html = renderToStaticMarkup(createElement(StatusBar, { training: null as unknown as Training, replay: shown }));
    const recent = playhead.store.recentMean('imagesPerSecond', 20);
    // The fixture's two figures differ: 33.8 img/s for its whole run, 35.6 as the mean of its last steps' own figures.
    expect(made.imagesPerSecond).toBeCloseTo(33.82, 2);
    expect(recent).toBeCloseTo(35.62, 2);
    expect(recordedPace(made)).toBe('recorded at 34 img/s over the whole run (0:02 of training, 0:59 with the evaluations)');
    const stat = /<span[^>]*>([^<]*)<\/span><span[^>]*data-testid="status-throughput"[^>]*>([^<]*)</.exec(html);
    expect(stat?.slice(1)).toEqual(['Images/s (recorded, recent steps)', '35.6']);
  });
});
