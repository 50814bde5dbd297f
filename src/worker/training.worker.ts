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
    const bundle = await service.exportWeights(options);
    return Comlink.transfer(bundle, [bundle.zip.buffer]);
  },
  loadWeights: (bytes, fileName) => service.loadWeights(bytes, fileName),
  embed: async (images, which) => {
    const out = await service.embed(images, which);
    return Comlink.transfer(out, [out.buffer as ArrayBuffer]);
  },
  loadDataset: async (source, onProgress) => {
    const loaded = await service.loadDataset(
      source,
      // Fire and forget, as the statistics: a progress message must not hold the reading up.
      onProgress && ((p) => void Promise.resolve(onProgress(p)).catch(() => {})),
    );
    return Comlink.transfer(loaded, [loaded.dataset.thumbnails.pixels.buffer]);
  },
  datasetInfo: async () => {
    const info = await service.datasetInfo();
    return info && Comlink.transfer(info, [info.thumbnails.pixels.buffer]);
  },
  onEvaluation: (listener) => service.onEvaluation((event) => void Promise.resolve(listener(event)).catch(() => {})),
  setEvaluation: (settings) => service.setEvaluation(settings),
  evaluateKnn: () => service.evaluateKnn(),
  trainProbe: (options) => service.trainProbe(options),
  embeddingView: async () => {
    const view = await service.embeddingView();
    return Comlink.transfer(view, [view.points.buffer as ArrayBuffer, view.labels.buffer as ArrayBuffer]);
  },
  neighbours: async (heldOutIndex) => {
    const result = await service.neighbours(heldOutIndex);
    return Comlink.transfer(result, [result.query, ...result.neighbours].map((t) => t.rgba.buffer as ArrayBuffer));
  },
  augmentationPreview: async (count) => {
    const preview = await service.augmentationPreview(count);
    return Comlink.transfer(
      preview,
      preview.pairs.flatMap((p) => [p.original, ...p.views].map((image) => image.buffer as ArrayBuffer)),
    );
  },
};

Comlink.expose(api);
