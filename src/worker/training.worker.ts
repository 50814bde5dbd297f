/// <reference lib="webworker" />
/**
 * The training Worker: `training` (the run and the model) and `evaluation` (kNN monitor, probe,
 * embedding view, neighbours, augmentation preview) of one model, and `experiment` (runs of an
 * ablation, one after another in the same service). The page's types are those of
 * this code (`TrainingWorkerApi`), through ./bridge.
 */
import * as Comlink from 'comlink';
import { ExperimentRunner } from './experiment';
import { serve } from './expose';
import { RunStore } from './runStore';
import { TrainingService } from './training';

const service = new TrainingService();
// Runs save themselves to IndexedDB from here, off the page's thread.
if (RunStore.available()) service.useRunStore(new RunStore());
// Experiments train their runs in this service, one after another, the user's run set aside meanwhile.
const experiments = new ExperimentRunner(service);

/** The page's calls that change the run are refused while an experiment trains in the same service. */
const RUN_CHANGING = new Set<PropertyKey>(['configure', 'start', 'step', 'reset', 'setParams', 'loadWeights', 'loadDataset', 'resume', 'resumeSaved', 'restoreGoodState', 'continueOnCpu', 'holdRun', 'restoreRun']);
const pageService = new Proxy(service, {
  get(target, key) {
    const value = Reflect.get(target, key) as unknown;
    if (typeof value !== 'function') return value;
    const method = value as (...args: unknown[]) => unknown;
    return (...args: unknown[]) => {
      if (RUN_CHANGING.has(key)) experiments.refuseWhileRunning();
      return method.apply(target, args);
    };
  },
});

const api = {
  training: serve(pageService, ['init', 'configure', 'start', 'pause', 'step', 'reset', 'setParams', 'exportWeights', 'loadWeights', 'embed', 'loadDataset', 'datasetInfo', 'checkpoint', 'resume', 'savedRuns', 'resumeSaved', 'deleteSavedRun', 'renameSavedRun', 'currentSetup', 'savedRunCurves', 'restoreGoodState', 'ping', 'continueOnCpu', 'destroyGpuDevice', 'crashWorker', 'deviceRecovered', 'holdRun', 'restoreRun'], ['init']),
  experiment: serve(experiments, ['run', 'cancel']),
  evaluation: serve(service.evaluation, ['subscribe', 'configure', 'evaluateKnn', 'trainProbe', 'embeddingView', 'neighbours', 'augmentationPreview'], ['subscribe']),
};

export type TrainingWorkerApi = typeof api;

Comlink.expose(api);
