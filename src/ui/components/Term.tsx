import { useId, type ReactNode } from 'react';
import { GLOSSARY, type GlossaryKey } from '../glossary';
import styles from './Term.module.css';

/**
 * A term of the glossary in running text: dotted underline, its explanation as a tooltip on hover
 * and on keyboard focus (the term is a button, so a tab stop), and as its accessible description.
 */
export function Term({ id, children }: { id: GlossaryKey; children?: ReactNode }) {
  const tip = useId();
  return (
    <span className={styles.term}>
      <button
        type="button"
        className={styles.word}
        aria-describedby={tip}
        data-testid={`term-${id}`}
        // Escape hides the explanation again without moving on (WCAG 1.4.13).
        onKeyDown={(e) => {
          if (e.key === 'Escape') e.currentTarget.blur();
        }}
      >
        {children ?? GLOSSARY[id].term}
      </button>
      <span role="tooltip" id={tip} className={styles.tip}>
        {GLOSSARY[id].text}
      </span>
    </span>
  );
}
