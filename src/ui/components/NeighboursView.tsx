import type { NeighboursResult } from '../../worker/evaluationTypes';
import { Thumbnail } from './Thumbnail';
import styles from './NeighboursView.module.css';

/** A held-out image and the training images whose features are most like its own. */
export function NeighboursView({ result }: { result: NeighboursResult }) {
  const name = (label: number) => result.classNames[label] ?? String(label);
  const same = result.neighbours.filter((n) => n.label === result.query.label).length;
  return (
    <div className={styles.neighbours} data-testid="neighbours">
      <figure className={styles.neighbours__query}>
        <Thumbnail rgba={result.query.rgba} label={`held-out image ${result.query.index}: ${name(result.query.label)}`} className={styles['thumb--large']} />
        <figcaption>
          held-out #{result.query.index}
          <br />
          {name(result.query.label)}
        </figcaption>
      </figure>
      <p className={styles.neighbours__summary} data-testid="neighbours-same">
        same class: {same} / {result.neighbours.length}
      </p>
      <ul className={styles.neighbours__legend} aria-label="Borders">
        <li>
          <span className={`${styles.swatch} ${styles['swatch--same']}`} /> same class as the held-out image
        </li>
        <li>
          <span className={`${styles.swatch} ${styles['swatch--other']}`} /> another class
        </li>
      </ul>
      <ol className={styles.neighbours__list} aria-label="Nearest training images, most similar first">
        {result.neighbours.map((n) => (
          <li key={n.index} className={n.label === result.query.label ? styles['same-class'] : styles['other-class']} data-testid="neighbour">
            <Thumbnail rgba={n.rgba} label={`training image ${n.index}: ${name(n.label)}, cosine similarity ${n.similarity.toFixed(3)}`} className={styles['thumb--large']} />
            <span className={styles.neighbours__similarity} data-testid="neighbour-similarity">
              {n.similarity.toFixed(3)}
            </span>
            <span className={styles.neighbours__class}>{name(n.label)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
