import { memo, useCallback, useEffect, useId, useRef, useState } from 'react';
import { GLOSSARY, type GlossaryKey } from '../glossary';
import { Term } from './Term';
import styles from './Explainer.module.css';

/** localStorage key: set once the explainer is dismissed, so that it stays closed after a reload. */
export const EXPLAINER_DISMISSED_KEY = 'moco-explainer-dismissed';

function readDismissed(): boolean {
  try {
    return localStorage.getItem(EXPLAINER_DISMISSED_KEY) === '1';
  } catch {
    // Storage blocked (a private window's policy): show it, and let Dismiss hide it for this visit.
    return false;
  }
}

/**
 * The first visit's guide: what MoCo is, what to press, what to watch, and the glossary. Dismissed
 * for good with "Got it" (remembered in localStorage); "What is MoCo?" brings it back.
 */
export const Explainer = memo(function Explainer() {
  const uid = useId();
  const [open, setOpen] = useState(() => !readDismissed());
  // The control pressed goes away with the toggle: focus moves to what replaces it (the button that
  // brings the explainer back, or the explainer's heading), not to the page's start.
  const toggled = useRef(false);
  const reopenButton = useRef<HTMLButtonElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!toggled.current) return;
    toggled.current = false;
    (open ? heading : reopenButton).current?.focus();
  }, [open]);
  const reopen = useCallback(() => {
    toggled.current = true;
    setOpen(true);
  }, []);
  const dismiss = useCallback(() => {
    toggled.current = true;
    setOpen(false);
    try {
      localStorage.setItem(EXPLAINER_DISMISSED_KEY, '1');
    } catch {
      // Not remembered: it shows again on the next visit, nothing else is lost.
    }
  }, []);
  if (!open) {
    // On a phone it stays at the top with the status and the diagram, where a student looks first.
    return (
      <button ref={reopenButton} type="button" className={`btn ${styles.reopen}`} onClick={reopen} data-testid="explainer-open" data-narrow-first>
        What is MoCo? What should I watch?
      </button>
    );
  }
  return (
    <section className={`card ${styles.explainer}`} aria-labelledby={`${uid}-title`} data-testid="explainer" data-narrow-first>
      <div className={styles.head}>
        <h2 id={`${uid}-title`} ref={heading} tabIndex={-1}>
          What you are watching
        </h2>
        <button type="button" className="btn" onClick={dismiss} data-testid="explainer-dismiss">
          Got it
        </button>
      </div>
      <p>
        <Term id="moco" /> learns what makes images different without any labels. Each image is augmented twice: the query encoder encodes one view, a slowly
        moving copy of it — the momentum encoder — encodes the other as the positive key. The <Term id="infoNce" /> asks the query to pick its positive out of
        thousands of older keys kept in a <Term id="queue" />. The two ideas: the queue gives many negatives cheaply, and the <Term id="momentum" /> keeps
        those keys consistent.
      </p>
      <p className={styles.watch}>What to watch after pressing ▶ Start:</p>
      <ul>
        <li>
          the loss rises to the dashed <Term id="chance" /> while the queue fills, then <strong>falls below it</strong>;
        </li>
        <li>
          kNN accuracy (evaluation panel; Run now before Start gives the <Term id="baseline" />) <strong>rises above the untrained baseline</strong>;
        </li>
        <li>
          the key encoder&apos;s <Term id="keyLag" /> on the diagram&apos;s momentum arrow: set m to 0 and it drops to 0 at the next step.
        </li>
      </ul>
      <p className="hint">
        On a laptop without a strong GPU the tiny network learns slowly: the first minutes mostly fill the queue, and kNN may stay near its baseline. That is
        expected.
      </p>
      <details className={styles.glossary}>
        <summary>Glossary</summary>
        <dl>
          {(Object.keys(GLOSSARY) as GlossaryKey[]).map((key) => (
            <div key={key}>
              <dt>{GLOSSARY[key].term}</dt>
              <dd>{GLOSSARY[key].text}</dd>
            </div>
          ))}
        </dl>
      </details>
    </section>
  );
});
