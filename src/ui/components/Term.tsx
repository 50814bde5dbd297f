import { useId, useState, type ReactNode } from 'react';
import { GLOSSARY, type GlossaryKey } from '../glossary';
import styles from './Term.module.css';

/**
 * A term of the glossary in running text: dotted underline, its explanation as a tooltip on hover
 * and on keyboard focus (the term is a button, so a tab stop), and as its accessible description.
 */
export function Term({ id, children }: { id: GlossaryKey; children?: ReactNode }) {
  const tip = useId();
  // Escape hides the explanation without moving on (WCAG 1.4.13): the focus stays on the term (a
  // blur would drop it to the page's start); it shows again on the next focus or hover.
  const [dismissed, setDismissed] = useState(false);
  return (
    <span className={styles.term} data-dismissed={dismissed || undefined} onMouseLeave={() => setDismissed(false)}>
      <button
        type="button"
        className={styles.word}
        aria-describedby={tip}
        data-testid={`term-${id}`}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setDismissed(true);
        }}
        onBlur={() => setDismissed(false)}
      >
        {children ?? GLOSSARY[id].term}
      </button>
      <span role="tooltip" id={tip} className={styles.tip}>
        {GLOSSARY[id].text}
      </span>
    </span>
  );
}
