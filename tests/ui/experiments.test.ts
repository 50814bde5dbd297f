/**
 * The experiments panel tells a user who picks runs too short for the parameter to act why the
 * rows cannot differ, and how many steps they need (the rule is checked against real MoCo runs in
 * tests/worker/experiment.test.ts).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Experiments, shortRunNote, tooShortHint } from '../../src/ui/components/Experiments';
import { defaultLearningRate } from '../../src/ui/scales';
import type { Experiment } from '../../src/ui/useExperiment';
import { replayBusyNote } from '../../src/ui/useReplay';
import { BUILDING, type TrainingView } from '../../src/ui/useTraining';
import { firstDifferingStep, type ExperimentRunResult } from '../../src/worker/experimentTypes';
import type { TrainingSetup } from '../../src/worker/types';

const BATCH_8 = { batchSize: 8 };

describe('an experiment too short for its parameter to act', () => {
  it('needs 3 steps for m: the key encoder is the query encoder’s copy for the keys of steps 1 and 2', () => {
    expect(firstDifferingStep('momentum', [0, 0.9, 0.99, 0.999], BATCH_8)).toBe(3);
    expect(tooShortHint('momentum', [0, 0.99], 2, BATCH_8)).toMatch(/^With 2 steps per run the loss and accuracy of the runs cannot differ: m acts through the key encoder, .*step 3’s keys are the first .* Give at least 3 steps\.$/);
    expect(tooShortHint('momentum', [0, 0.99], 1, BATCH_8)).toMatch(/^With 1 step per run .* Give at least 3 steps\.$/);
    expect(tooShortHint('momentum', [0, 0.99], 3, BATCH_8)).toBeNull();
  });

  it('needs K for the queue until the smallest queue is full: ⌊min K / batch⌋ + 2', () => {
    expect(firstDifferingStep('queueSize', [32, 16], BATCH_8)).toBe(4);
    expect(firstDifferingStep('queueSize', [256, 1024, 4096, 16384], { batchSize: 256 })).toBe(3);
    expect(firstDifferingStep('queueSize', [256, 1024, 4096, 16384], { batchSize: 16 })).toBe(18);
    // A queue smaller than a batch keeps the newest K of step 1's keys: the runs differ at step 2.
    expect(firstDifferingStep('queueSize', [4, 64], BATCH_8)).toBe(2);
    expect(tooShortHint('queueSize', [16, 32], 3, BATCH_8)).toBe(
      'With 3 steps per run the loss and accuracy of the runs cannot differ: step s reads min(K, (s − 1) × batch 8) keys, the same ones in every run until the smallest queue (K = 16) is full; the runs first differ at step 4. Give at least 4 steps.',
    );
    expect(tooShortHint('queueSize', [16, 32], 4, BATCH_8)).toBeNull();
    expect(tooShortHint('queueSize', [16, 32], 300, BATCH_8)).toBeNull();
  });

  it('needs 2 steps for T, the batch size or the method: step 1’s queue is empty', () => {
    for (const [param, values] of [['temperature', [0.07, 0.2]], ['batchSize', [8, 16]], ['version', ['v1', 'v2']]] as const) {
      expect(firstDifferingStep(param, values, BATCH_8)).toBe(2);
      expect(tooShortHint(param, values, 1, BATCH_8)).toMatch(/^With 1 step per run .*: step 1’s queue is empty, so every run’s loss is 0 and its contrastive accuracy 100 %.* Give at least 2 steps\.$/);
      expect(tooShortHint(param, values, 2, BATCH_8)).toBeNull();
    }
  });

  it('says nothing where there are no two different values to compare', () => {
    expect(tooShortHint('momentum', [0.99], 1, BATCH_8)).toBeNull();
    expect(tooShortHint('momentum', [0.9, 0.9], 1, BATCH_8)).toBeNull();
  });
});

/** The teacher's setup: the tiny network at batch 8 (its default rate 0.03 × 8/256 = 0.000937) on the 2,000 built-in images. */
const BASE: TrainingSetup = {
  version: 'v2',
  preset: 'tiny',
  batchSize: 8,
  dataset: 'synthetic',
  datasetSize: 2000,
  stepBudget: 0,
  seed: 1,
  params: { momentum: 0.99, queueSize: 4096, temperature: 0.2, learningRate: defaultLearningRate(8) },
};

describe('what a short experiment can show (the note under its table)', () => {
  it('says what m does at once, that accuracy needs many epochs, and how little 30 steps at batch 8 move the network, from the setup', () => {
    const note = shortRunNote({ param: 'momentum', values: [0, 0.99], steps: 30, base: BASE }, 2000);
    expect(note).toMatch(/^m acts on the key encoder at once: with m = 0 its lag is 0 and its key consistency 1/);
    expect(note).toContain('Its effect on accuracy needs many epochs');
    expect(note).toContain('Here 30 steps of batch 8 are 0.12 epochs of 2,000 images and the learning rate is 0.03 × 8/256 = 0.000937');
    expect(note).toMatch(/so few steps move the network little/);
    // Batch 256 at its rate 0.03, 3,000 steps of 10,000 images: 77 epochs, no longer "few steps"; a rate set by hand is given as set.
    const long = shortRunNote({ param: 'momentum', values: [0, 0.99], steps: 3000, base: { ...BASE, batchSize: 256, params: { ...BASE.params, learningRate: 0.03 } } }, 10_000);
    expect(long).toContain('3,000 steps of batch 256 are 77 epochs of 10,000 images and the learning rate is 0.03 × 256/256 = 0.03');
    expect(long).not.toContain('move the network little');
    expect(shortRunNote({ param: 'temperature', values: [0.1, 0.2], steps: 30, base: { ...BASE, params: { ...BASE.params, learningRate: 0.01 } } }, 2000)).toBe(
      'Here 30 steps of batch 8 are 0.12 epochs of 2,000 images and the learning rate is 0.01: so few steps move the network little, and the rows’ accuracy and kNN hardly differ.',
    );
  });

  it('for K, names the chance levels of the values: a smaller loss with a smaller K is not better learning', () => {
    const note = shortRunNote({ param: 'queueSize', values: [256, 1024, 4096, 16384], steps: 30, base: BASE }, 2000);
    expect(note).toMatch(/^K sets the loss’s chance level ln\(K \+ 1\) \(5\.55 at K = 256, 9\.7 at K = 16,384\): a smaller loss with a smaller K is not better learning\. Compare loss ÷ ln\(n \+ 1\)/);
  });
});

/** A finished run's row: its final figures, with empty curves (the table reads the summary only). */
function row(label: string, value: number, figures: Partial<NonNullable<ExperimentRunResult['summary']>>): ExperimentRunResult {
  const summary = { steps: 30, finalLoss: 3, finalLossRatio: 1, finalContrastiveAccuracy: 0, finalKeyLag: 0, finalKeyConsistency: 1, knn: null, seconds: 2, ...figures };
  return { value, label, summary, error: null, trainingImages: BASE.datasetSize, curves: { setup: BASE, count: 0, columns: {} as ExperimentRunResult['curves']['columns'], knn: [] } };
}

function panel(busy: string | null, finished: ExperimentRunResult[] = [], model = { datasetName: 'Built-in shapes', datasetSize: 2000 }, step = 2): string {
  const view: TrainingView = {
    phase: 'ready',
    backend: null,
    model: { parameterCount: 2588, batchesPerEpoch: 250, ...model, setupMs: 1 },
    status: { state: step > 0 ? 'paused' : 'idle', runId: 1, step, elapsedMs: 0, stepBudget: 0, error: null },
    statusAt: 0,
    workerParams: null,
    queue: null,
    busy,
    error: null,
  };
  const experiment: Experiment = {
    run: () => Promise.resolve(),
    cancel: () => undefined,
    clear: () => undefined,
    progress: null,
    finished,
    result: null,
    error: null,
    cancelling: false,
    running: false,
    overlaySources: [],
  };
  return renderToStaticMarkup(createElement(Experiments, { training: { view, setup: BASE, params: BASE.params }, experiment }));
}

/** The opening tags of the elements with these test ids. */
function tags(html: string, ids: string[]): string[] {
  return ids.map((id) => new RegExp(`<(input|select|button)[^>]*data-testid="${id}"[^>]*>`).exec(html)?.[0] ?? `missing ${id}`);
}

const FORM = ['experiment-param', 'experiment-values', 'experiment-steps', 'experiment-knn', 'experiment-preset-momentum', 'experiment-preset-queueSize', 'experiment-run'];

describe('the Experiments panel', () => {
  it('waits during a classroom replay, as the training controls do: Vary, the values, the presets and Run', () => {
    const replay = panel(replayBusyNote(2));
    // Run is a task button: it waits by aria-disabled, keeping the keyboard's focus.
    const waits = (tag: string) => / disabled=""|aria-disabled="true"/.test(tag);
    for (const tag of tags(replay, FORM)) expect(waits(tag), tag).toBe(true);
    for (const tag of tags(panel(null), FORM)) expect(waits(tag), tag).toBe(false);
    // A rebuild after a setup change holds nothing: the form stays free (Run waits for the model).
    for (const tag of tags(panel(BUILDING), FORM.slice(0, -1))) expect(waits(tag), tag).toBe(false);
  });

  it('says the run is saved and comes back, or for a run with no step, that nothing is saved and a fresh model comes back', () => {
    const text = (html: string) => html.replace(/<[^>]+>/g, '');
    expect(text(panel(null))).toContain('Your run is paused and saved first, and comes back as it was when the experiment ends or is cancelled.');
    const fresh = text(panel(null, [], undefined, 0));
    expect(fresh).toContain('Your run has no step yet, so there is nothing to save: it comes back as a fresh model of the same setup');
    expect(fresh).not.toContain('paused and saved');
  });

  it('tables the loss over its chance level, the key lag and the key consistency of every run, and says what to expect', () => {
    // Two runs at their start, at chance: raw losses ln 17 = 2.83 and ln 4,097 = 8.32, both 1 over chance.
    const html = panel(null, [
      row('K = 16', 16, { finalLoss: 2.8332, finalLossRatio: 1.0004, finalKeyLag: 0.0000189, finalKeyConsistency: 0.9999998807907104 }),
      row('K = 4,096', 4096, { finalLoss: 8.318, finalLossRatio: 0.9998, finalKeyLag: Number.NaN, finalKeyConsistency: Number.NaN }),
    ]);
    expect([...html.matchAll(/<th scope="col">([^<]*)<\/th>/g)].map((m) => m[1]).slice(0, 9)).toEqual([
      'run',
      'steps',
      'final loss',
      'loss ÷ ln(n+1)',
      'contrastive acc.',
      'kNN',
      'key lag',
      'key cos',
      'time',
    ]);
    const cells = (id: string) => [...html.matchAll(new RegExp(`data-testid="${id}">([^<]*)<`, 'g'))].map((m) => m[1]);
    expect(cells('experiment-loss-ratio')).toEqual(['1', '1']);
    expect(cells('experiment-key-lag')).toEqual(['0.0000189', '–']);
    expect(cells('experiment-key-cos')).toEqual(['0.99999988', '–']);
    expect(html).toContain('Loss ÷ ln(n+1): the loss over its chance level');
    expect(html).toMatch(/data-testid="experiment-note">m acts on the key encoder at once/);
  });

  it("counts the epochs of the note on the images the runs trained on, not those of the run in use (a Dataset choice not yet applied)", () => {
    // The user's run is on 50,000 images of their files; the form says the built-in shapes, 2,000 of them, which the experiment's runs trained on.
    const html = panel(null, [row('m = 0', 0, {}), row('m = 0.99', 0.99, {})], { datasetName: 'data_batch_1.bin', datasetSize: 50_000 });
    expect(html).toContain('Here 100 steps of batch 8 are 0.4 epochs of 2,000 images');
  });
});
