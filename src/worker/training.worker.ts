/// <reference lib="webworker" />
/**
 * The training Worker: `training` (the run and the model) and `evaluation` (kNN monitor, probe,
 * embedding view, neighbours, augmentation preview) of one model. The page's types are those of
 * this code (`TrainingWorkerApi`), through ./bridge.
 */
import * as Comlink from 'comlink';
import { serve } from './expose';
import { RunStore } from './runStore';
import { TrainingService } from './training';

const service = new TrainingService();
// Runs save themselves to IndexedDB from here, off the page's thread.
if (RunStore.available()) service.useRunStore(new RunStore());

const api = {
  training: serve(service, ['init', 'configure', 'start', 'pause', 'step', 'reset', 'setParams', 'exportWeights', 'loadWeights', 'embed', 'loadDataset', 'datasetInfo', 'checkpoint', 'resume', 'savedRuns', 'resumeSaved', 'deleteSavedRun', 'renameSavedRun', 'currentSetup', 'restoreGoodState', 'ping', 'continueOnCpu', 'destroyGpuDevice']),
  evaluation: serve(service.evaluation, ['subscribe', 'configure', 'evaluateKnn', 'trainProbe', 'embeddingView', 'neighbours', 'augmentationPreview']),
};

export type TrainingWorkerApi = typeof api;

Comlink.expose(api);
