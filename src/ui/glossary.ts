/**
 * Every term the panels use, explained once: the tooltips (`Term`), the diagram's titles and the
 * first-visit explainer's glossary all read this list.
 */
export const GLOSSARY = {
  moco: {
    term: 'MoCo',
    text: 'Momentum Contrast (He et al. 2019): learns image features without labels by telling two views of the same image apart from views of other images.',
  },
  infoNce: {
    term: 'InfoNCE loss',
    text: 'The contrastive loss: a softmax over the positive key and K negatives, where the query must pick its positive. At chance it is ln(K+1).',
  },
  positive: {
    term: 'q·k₊',
    text: 'Cosine similarity of a query q with its positive key k₊: the other augmented view of the same image, encoded by the momentum encoder. Learning pulls it towards 1.',
  },
  negative: {
    term: 'q·kᵢ',
    text: 'Mean cosine similarity of a query with the negatives kᵢ: keys of other images, taken from the queue. Learning pushes it down.',
  },
  queue: {
    term: 'queue',
    text: 'The K most recent keys, used as negatives. Every step enqueues the batch’s new keys and drops the oldest, so K can be much larger than a batch.',
  },
  momentum: {
    term: 'momentum m',
    text: 'The key encoder follows the query encoder slowly: θk ← m·θk + (1 − m)·θq after every step. A large m (0.99 to 0.999) keeps the queued keys consistent; m = 0 fails.',
  },
  keyLag: {
    term: 'lag',
    text: 'How far the key encoder trails the query encoder: ‖θk − θq‖ / ‖θq‖ over all parameters after the step. 0 when m = 0; larger for larger m.',
  },
  keyConsistency: {
    term: 'key cos',
    text: 'Key consistency: the mean cosine between the key and query encoders’ embeddings of the same 16 un-augmented images, every 5 steps. 1 means the same encoder.',
  },
  keyAge: {
    term: 'key age',
    text: 'How many steps ago a queued key was computed. Older keys come from an older key encoder; a slowly moving one (large m) keeps them comparable.',
  },
  temperature: {
    term: 'temperature T',
    text: 'Similarities are divided by T before the softmax: a small T sharpens the contrast between the positive and the negatives.',
  },
  contrastiveAccuracy: {
    term: 'contrastive accuracy',
    text: 'How often a query’s most similar key is its own positive, out of the positive and the n queued negatives. Chance is 1/(n+1); it falls as the queue fills.',
  },
  lossRatio: {
    term: 'loss ÷ chance',
    text: 'The loss divided by its chance level ln(n+1): 1 means nothing learned at any queue size, so changing K does not look like learning; below 1 is learning.',
  },
  smoothing: {
    term: 'smoothing',
    text: 'TensorBoard’s debiased exponential moving average of the loss and accuracy, 0 (raw) to 0.99; the raw values stay drawn, faint. It lags behind the raw line.',
  },
  chance: {
    term: 'chance line',
    text: 'What an encoder that learned nothing scores: loss ln(n+1) and accuracy 1/(n+1) against n negatives. The loss rises to it while the queue fills.',
  },
  knnMonitor: {
    term: 'kNN monitor',
    text: 'Classifies each held-out image by the labels of its most similar training images, using the frozen features. It needs no training, so it can run every few hundred steps.',
  },
  weightedKnn: {
    term: 'weighted kNN (k 200, t 0.1)',
    text: 'Each of the 200 nearest training images votes for its class with weight exp(similarity / 0.1): nearer images count more. The MoCo CIFAR demo’s monitor.',
  },
  testTransform: {
    term: 'backbone features under the test transform',
    text: 'The query encoder’s pooled ResNet output (before the projection head) for images that are only normalised, not augmented: what a downstream task would use.',
  },
  linearProbe: {
    term: 'linear probe',
    text: 'A linear classifier trained on the frozen features with labels. Its accuracy measures how much class information the self-supervised features carry.',
  },
  pca: {
    term: 'PCA',
    text: 'Principal component analysis: the two directions along which the features vary most, used to draw them on a plane. Classes that separate here are far apart.',
  },
  baseline: {
    term: 'untrained baseline',
    text: 'kNN accuracy of the network before training (Run now before Start). Random convolutions already beat chance; learning should rise above this.',
  },
} as const;

export type GlossaryKey = keyof typeof GLOSSARY;

/** "term: explanation", for SVG <title>s and native title attributes. */
export function glossaryLine(key: GlossaryKey): string {
  const { term, text } = GLOSSARY[key];
  return `${term}: ${text}`;
}
