import type { ImageDataset } from '../data/dataset';
import type { Encoder } from '../moco/encoder';
import { extractOutputs, type EncoderOutput, type Normalization } from './features';
import { evaluateKnn, type KnnEvaluation } from './knn';

export interface KnnMonitorOptions {
  k?: number;
  t?: number;
  /** Images per forward pass while extracting features. */
  batchSize?: number;
  onProgress?: (phase: 'bank' | 'queries', done: number, total: number) => void;
}

export interface KnnReport extends KnnEvaluation {
  output: EncoderOutput;
  /** Wall time of the whole evaluation (feature extraction of bank and queries, and the votes), in seconds. */
  seconds: number;
}

/**
 * The MoCo demo's training monitor: features of the training set (test transform) are the bank,
 * features of held-out images are the queries, weighted kNN predicts their classes. Every tensor it
 * makes is disposed before it returns.
 */
export async function knnMonitor(
  encoder: Encoder,
  bankSet: ImageDataset,
  querySet: ImageDataset,
  normalization: Normalization,
  options: KnnMonitorOptions & { output?: EncoderOutput } = {},
): Promise<KnnReport> {
  return (await knnMonitorOutputs(encoder, bankSet, querySet, normalization, [options.output ?? 'backbone'], options))[0];
}

/** The kNN monitor on several encoder outputs at the price of one pass over the images. */
export async function knnMonitorOutputs(
  encoder: Encoder,
  bankSet: ImageDataset,
  querySet: ImageDataset,
  normalization: Normalization,
  outputs: readonly EncoderOutput[],
  options: KnnMonitorOptions = {},
): Promise<KnnReport[]> {
  if (bankSet.classNames.length !== querySet.classNames.length) {
    throw new Error(
      `the kNN bank (${bankSet.name}) has ${bankSet.classNames.length} classes but the queries (${querySet.name}) have ${querySet.classNames.length}`,
    );
  }
  const start = performance.now();
  const banks = await extractOutputs(encoder, bankSet, normalization, outputs, {
    batchSize: options.batchSize,
    onProgress: (done, total) => options.onProgress?.('bank', done, total),
  });
  try {
    const queries = await extractOutputs(encoder, querySet, normalization, outputs, {
      batchSize: options.batchSize,
      onProgress: (done, total) => options.onProgress?.('queries', done, total),
    });
    try {
      const extracted = performance.now();
      const reports: KnnReport[] = [];
      for (let i = 0; i < outputs.length; i++) {
        const voteStart = performance.now();
        const evaluation = await evaluateKnn(banks[i], bankSet.labels, queries[i], querySet.labels, {
          k: options.k,
          t: options.t,
          numClasses: bankSet.classNames.length,
        });
        // Each report carries the shared extraction time plus its own vote.
        reports.push({ ...evaluation, output: outputs[i], seconds: (extracted - start + performance.now() - voteStart) / 1000 });
      }
      return reports;
    } finally {
      for (const q of queries) q.dispose();
    }
  } finally {
    for (const b of banks) b.dispose();
  }
}
