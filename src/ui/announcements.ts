import type { EvaluationProgress } from '../worker/evaluationTypes';
import type { ExperimentProgress } from '../worker/experimentTypes';
import { formatInt } from './format';
import type { Loading } from './useDataset';

/**
 * What a screen reader is told of a long task's progress: its stages, never its counts. The
 * progress lines on screen change with every step, batch or chunk; a polite live region that read
 * them all would talk without pause and bury everything else, so each line is shown without a live
 * role and one of these, which changes only when the stage does, goes into a live region beside it.
 */

export const EVALUATION_TASK_NAMES = { knn: 'kNN', probe: 'Linear probe', embedding: 'Embedding', neighbours: 'Neighbours' } as const;

/** "kNN at step 120, 2 of 3: features of the held-out images": no image counts, no time left. */
export function evaluationAnnouncement(p: EvaluationProgress | null): string {
  if (!p) return '';
  return `${EVALUATION_TASK_NAMES[p.task]} at step ${formatInt(p.step)}, ${p.phaseNumber} of ${p.phaseCount}: ${p.phase}`;
}

/** "Run 2 of 4 (m 0.9): training": the run and its phase, not its step nor the time left. */
export function experimentAnnouncement(p: ExperimentProgress | null, running: boolean): string {
  if (!running) return '';
  if (!p || p.phase === 'saving') return 'Saving your run…';
  if (p.phase === 'restoring') return 'Putting your run back…';
  return `Run ${p.run + 1} of ${p.runs} (${p.label}): ${p.phase === 'knn' ? 'kNN evaluation' : 'training'}`;
}

/** "Reading cifar-10-binary.tar.gz…": the file, not the megabytes read so far. */
export function loadingAnnouncement(loading: Loading | null): string {
  return loading ? `Reading ${loading.what}…` : '';
}
