/**
 * What a screen reader hears of long tasks: a polite live region that read every step's or
 * batch's count would talk without pause, so the announcements change only with the stage.
 */
import { describe, expect, it } from 'vitest';
import { evaluationAnnouncement, experimentAnnouncement, loadingAnnouncement } from '../../src/ui/announcements';
import type { EvaluationProgress } from '../../src/worker/evaluationTypes';
import type { ExperimentProgress } from '../../src/worker/experimentTypes';

const knn = (done: number, secondsLeft: number | null, phaseNumber = 1): EvaluationProgress => ({
  runId: 1,
  step: 1200,
  task: 'knn',
  phase: phaseNumber === 1 ? 'features of the training set' : 'features of the held-out images',
  phaseNumber,
  phaseCount: 3,
  done,
  total: 5000,
  secondsLeft,
});

const run = (step: number, remainingMs: number | null, over: Partial<ExperimentProgress> = {}): ExperimentProgress => ({
  run: 1,
  runs: 4,
  label: 'm 0.9',
  step,
  steps: 100,
  phase: 'training',
  remainingMs,
  ...over,
});

describe('announcements of long tasks', () => {
  it('say an evaluation phase once: the same words for every batch of it, new words for the next phase', () => {
    const batches = [knn(0, null), knn(256, 40), knn(4096, 3)].map(evaluationAnnouncement);
    expect(new Set(batches).size).toBe(1);
    expect(batches[0]).toBe('kNN at step 1,200, 1 of 3: features of the training set');
    expect(evaluationAnnouncement(knn(0, null, 2))).toBe('kNN at step 1,200, 2 of 3: features of the held-out images');
    expect(evaluationAnnouncement(null)).toBe('');
  });

  it("say an experiment's runs and phases, not its steps nor its time left", () => {
    const steps = [run(0, null), run(1, 60_000), run(57, 21_000)].map((p) => experimentAnnouncement(p, true));
    expect(new Set(steps).size).toBe(1);
    expect(steps[0]).toBe('Run 2 of 4 (m 0.9): training');
    expect(experimentAnnouncement(run(100, 1000, { phase: 'knn' }), true)).toBe('Run 2 of 4 (m 0.9): kNN evaluation');
    expect(experimentAnnouncement(run(0, null, { run: 2, label: 'm 0.99' }), true)).toBe('Run 3 of 4 (m 0.99): training');
    expect(experimentAnnouncement(null, true)).toBe('Saving your run…');
    expect(experimentAnnouncement(run(100, 0, { phase: 'restoring' }), true)).toBe('Putting your run back…');
    // Ended: the region empties (the result line says how it went).
    expect(experimentAnnouncement(run(100, 0), false)).toBe('');
  });

  it("say which file is read, not the megabytes read so far", () => {
    const chunks = [null, { file: 'cifar-10-binary.tar.gz', done: 1e6, total: 170e6, unit: 'bytes' as const }, { file: 'cifar-10-binary.tar.gz', done: 90e6, total: 170e6, unit: 'bytes' as const }].map((progress) => loadingAnnouncement({ what: 'cifar-10-binary.tar.gz', progress }));
    expect(new Set(chunks).size).toBe(1);
    expect(chunks[0]).toBe('Reading cifar-10-binary.tar.gz…');
    expect(loadingAnnouncement(null)).toBe('');
  });
});
