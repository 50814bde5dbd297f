/**
 * What a class sees while a classroom replay or an experiment holds the Worker (the teacher's walk
 * through the app without a GPU): the training controls wait, and nothing says Start or shows the
 * state of a run that is not the one on screen.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Charts, EXPERIMENT_WAIT, REPLAY_WAIT } from '../../src/ui/components/Charts';
import { Controls, type ControlsProps } from '../../src/ui/components/Controls';
import { experimentState } from '../../src/ui/components/StatusBar';
import { SeriesStore } from '../../src/ui/series';
import { BUILDING } from '../../src/ui/useTraining';
import { replayBusyNote } from '../../src/ui/useReplay';

const noop = () => Promise.resolve() as never;

function controls(busy: string | null): string {
  const props: ControlsProps = {
    phase: 'ready',
    model: { parameterCount: 2588, batchesPerEpoch: 125, datasetName: 'Built-in shapes', datasetSize: 2000, setupMs: 1 },
    busy,
    runState: 'paused',
    started: true,
    stopped: false,
    workerLost: false,
    setup: { version: 'v2', preset: 'tiny', batchSize: 16, dataset: 'synthetic', datasetSize: 2000, stepBudget: 0, seed: 1 },
    params: { momentum: 0.99, queueSize: 4096, temperature: 0.2, learningRate: 0.001875 },
    setupDirty: false,
    dataLoading: false,
    updateSetup: noop,
    updateParam: noop,
    start: noop,
    pause: noop,
    step: noop,
    reset: noop,
    download: noop,
    loadWeights: noop,
    shareLink: () => 'http://localhost/',
    loadSample: noop,
  };
  return renderToStaticMarkup(createElement(Controls, props));
}

/** The tags of the elements with these test ids. */
function tags(html: string, ids: string[]): string[] {
  return ids.map((id) => new RegExp(`<(input|select)[^>]*data-testid="${id}"[^>]*>`).exec(html)?.[0] ?? `missing ${id}`);
}

const LIVE_AND_SETUP = ['momentum', 'queue', 'temperature', 'lr', 'preset', 'batch', 'version', 'dataset-size', 'budget'];

describe('the training controls while something else holds the Worker', () => {
  it('take the live parameters and the setup while nothing does, and while a setup change rebuilds the model (one menu after another)', () => {
    for (const tag of tags(controls(null), LIVE_AND_SETUP)) expect(tag).not.toContain('disabled');
    for (const tag of tags(controls(BUILDING), LIVE_AND_SETUP)) expect(tag).not.toContain('disabled');
  });

  it('wait during a replay: a slider moved there would change the run held aside, not the recording shown', () => {
    const html = controls(replayBusyNote(6));
    for (const tag of tags(html, LIVE_AND_SETUP)) expect(tag).toContain('disabled=""');
    expect(html).toContain('A classroom replay is shown: the controls wait until you leave it (your run is paused and kept).');
  });

  it('say during a replay that a run with no step has nothing kept: it comes back as a fresh model', () => {
    const html = controls(replayBusyNote(0));
    for (const tag of tags(html, LIVE_AND_SETUP)) expect(tag).toContain('disabled=""');
    expect(html).toContain('(your run had no step yet: it comes back as a fresh model of the same setup).');
    expect(html).not.toContain('kept');
  });
});

describe('the charts before their first step', () => {
  const empty = (whatNext?: string) => renderToStaticMarkup(createElement(Charts, { store: new SeriesStore(), version: 0, queueSize: 64, batchSize: 8, whatNext }));

  it('say Press Start only where Start can be pressed: a replay plays on by itself, an experiment takes its own steps', () => {
    expect(empty().match(/Press Start to train/g)?.length).toBe(7);
    for (const note of [REPLAY_WAIT, EXPERIMENT_WAIT]) {
      const html = empty(note);
      expect(html).not.toContain('Press Start');
      expect(html.split(note).length - 1).toBe(7);
    }
  });
});

describe('the status line during an experiment', () => {
  it('names the experiment and its run, not the inner run’s Ready, Paused or Finished', () => {
    expect(experimentState(true)).toBe('Experiment');
    expect(experimentState({ run: 1, runs: 4, label: 'm = 0.9', step: 5, steps: 5, phase: 'knn', remainingMs: 46_000 })).toBe('Experiment, run 2 of 4');
  });
});
