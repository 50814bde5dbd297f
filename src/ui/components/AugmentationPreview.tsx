import type { AugmentationPreview as Preview } from '../../worker/evaluationTypes';
import { Thumbnail } from './Thumbnail';
import styles from './AugmentationPreview.module.css';

/** Images of a training batch and the two augmented views of each that MoCo contrasts. */
export function AugmentationPreview({ preview }: { preview: Preview }) {
  const name = (label: number) => preview.classNames[label] ?? String(label);
  return (
    <ul className={styles.pairs} aria-label={`Images of the batch of step ${preview.batchStep}, each with two augmented views`}>
      {preview.pairs.map((p) => (
        <li key={p.index} className={styles.pair} data-testid="preview-pair">
          <Thumbnail rgba={p.original} label={`training image ${p.index}: ${name(p.label)}`} className={styles['thumb--original']} />
          <span className={styles.pair__arrow} aria-hidden="true">
            →
          </span>
          <figure className={styles.view}>
            <Thumbnail rgba={p.views[0]} label={`view 1 (query) of image ${p.index}`} testId="preview-view" className={styles.view__image} />
            <figcaption>query q</figcaption>
          </figure>
          <figure className={styles.view}>
            <Thumbnail rgba={p.views[1]} label={`view 2 (key) of image ${p.index}`} testId="preview-view" className={styles.view__image} />
            <figcaption>key k₊</figcaption>
          </figure>
        </li>
      ))}
    </ul>
  );
}
