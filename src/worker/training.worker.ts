/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import type { StatsBatch, TrainingApi } from './api';
import { TrainingService } from './service';

/** Every buffer of a batch moves to the page instead of being copied. */
function batchBuffers(batch: StatsBatch): ArrayBuffer[] {
  return [
    ...Object.values(batch.columns).map((c) => c.buffer as ArrayBuffer),
    batch.queue.segmentFill.buffer as ArrayBuffer,
    batch.queue.segmentAge.buffer as ArrayBuffer,
  ];
}

const service = new TrainingService();

const api: TrainingApi = {
  init: (onStats, options) =>
    service.init((batch) => {
      // Fire and forget: the page's answer carries nothing, and a late page must not stall training.
      Promise.resolve(onStats(Comlink.transfer(batch, batchBuffers(batch)))).catch(() => {});
    }, options),
  configure: (setup) => service.configure(setup),
  start: () => service.start(),
  pause: () => service.pause(),
  step: () => service.step(),
  reset: () => service.reset(),
  setParams: (params) => service.setParams(params),
  exportWeights: async (options) => {
    const models = await service.exportWeights(options);
    return Comlink.transfer(
      models,
      models.map((m) => m.weights),
    );
  },
  embed: async (images, which) => {
    const out = await service.embed(images, which);
    return Comlink.transfer(out, [out.buffer as ArrayBuffer]);
  },
};

Comlink.expose(api);
