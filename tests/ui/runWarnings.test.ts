import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RunWarnings } from '../../src/ui/components/FaultNotice';
import { dismissWarning, NONE_DISMISSED, shownWarnings, type WarningKeys } from '../../src/ui/runWarnings';
import { gpuErrorMessage } from '../../src/worker/training';
import type { GpuErrorWarning, LossWarning, RunStatus } from '../../src/worker/types';

/** The Worker's warning at step `step` of a stretch that began at `fromStep` (the message as training.ts words it). */
function lossWarning(fromStep: number, step: number): LossWarning {
  return {
    kind: 'blow-up',
    fromStep,
    step,
    steps: step - fromStep + 1,
    message: `The loss is 313.4 at step ${step} with learning rate 0.03 and temperature 1.00e-4, far above ln(K+1) = 3.50 (a guess among 33 keys): the temperature is too small (the logits are similarities divided by it) — raise the Temperature T slider (MoCo uses 0.07 to 0.2). Training goes on; this warning ends by itself at the first step whose loss is back below 10.49 (3 × ln(K+1)).`,
  };
}

function gpuError(count: number, step: number): GpuErrorWarning {
  const w = { firstStep: 3, step, count, error: 'Write range (bufferOffset: 64, size: 16) does not fit in [Buffer (unlabeled)] size (16)' };
  return { ...w, message: gpuErrorMessage(w) };
}

function status(runId: number, step: number, warnings: { loss?: LossWarning | null; gpu?: GpuErrorWarning | null }): RunStatus {
  return { state: 'running', runId, step, elapsedMs: 0, stepBudget: 0, error: null, diverged: null, lossWarning: warnings.loss ?? null, gpuError: warnings.gpu ?? null };
}

describe("a run's warnings (training goes on)", () => {
  it('a blown-up loss: shown while it lasts, hidden for the rest of its stretch once dismissed, shown again for a new stretch or a new run', () => {
    let dismissed: WarningKeys = NONE_DISMISSED;
    const at5 = status(1, 5, { loss: lossWarning(4, 5) });
    expect(shownWarnings(at5, dismissed).loss?.step).toBe(5);
    dismissed = dismissWarning(dismissed, at5, 'loss');
    expect(shownWarnings(at5, dismissed).loss).toBeNull();
    // The same stretch goes on: still dismissed.
    expect(shownWarnings(status(1, 6, { loss: lossWarning(4, 6) }), dismissed).loss).toBeNull();
    // The loss is back below the threshold: the Worker ends the warning; nothing to show.
    expect(shownWarnings(status(1, 7, {}), dismissed)).toEqual({ loss: null, gpu: null });
    // It blows up again from step 9: a new warning, shown.
    expect(shownWarnings(status(1, 9, { loss: lossWarning(9, 9) }), dismissed).loss?.fromStep).toBe(9);
    // A new run (Reset, a restore) whose stretch starts at step 4 too: shown.
    expect(shownWarnings(status(2, 4, { loss: lossWarning(4, 4) }), dismissed).loss?.fromStep).toBe(4);
  });

  it('GPU errors: hidden once dismissed until the GPU reports another', () => {
    let dismissed: WarningKeys = NONE_DISMISSED;
    const one = status(1, 3, { gpu: gpuError(1, 3) });
    dismissed = dismissWarning(dismissed, one, 'gpu');
    expect(shownWarnings(one, dismissed).gpu).toBeNull();
    expect(shownWarnings(status(1, 8, { gpu: gpuError(2, 8) }), dismissed).gpu?.count).toBe(2);
    // Dismissing one kind leaves the other.
    const both = status(1, 8, { loss: lossWarning(8, 8), gpu: gpuError(1, 3) });
    expect(shownWarnings(both, dismissed)).toMatchObject({ loss: { fromStep: 8 }, gpu: null });
  });

  it('says what happened, that training goes on and what to do, with a dismiss button and no stop', () => {
    const html = renderToStaticMarkup(
      createElement(RunWarnings, { warnings: { loss: lossWarning(4, 6), gpu: gpuError(2, 8) }, busy: false, onDismiss: () => {}, onRestart: () => {} }),
    );
    expect(html).toContain('data-testid="loss-warning"');
    expect(html).toContain('role="status"');
    expect(html).not.toContain('role="alert"');
    expect(html).toContain('raise the Temperature T slider (MoCo uses 0.07 to 0.2). Training goes on; this warning ends by itself at the first step whose loss is back below 10.49 (3 × ln(K+1)). So far 3 steps in a row, since step 4.');
    expect(html).toContain('data-testid="dismiss-loss-warning"');
    expect(html).toContain(
      'The GPU reported 2 errors that no check caught, from step 3 to step 8; the latest: Write range (bufferOffset: 64, size: 16) does not fit in [Buffer (unlabeled)] size (16). The GPU skipped the commands that failed, so the steps around it may be wrong. Training goes on (a loss that turns NaN still stops it, with the last good state to restore); if the errors repeat, Restart the worker: it goes on from the last save.',
    );
    expect(html).toContain('data-testid="gpu-error-restart"');
    // A single step above the threshold: no count.
    const single = renderToStaticMarkup(createElement(RunWarnings, { warnings: { loss: lossWarning(4, 4), gpu: null }, busy: false, onDismiss: () => {}, onRestart: () => {} }));
    expect(single).not.toContain('So far');
    expect(single).not.toContain('gpu-error');
    expect(renderToStaticMarkup(createElement(RunWarnings, { warnings: { loss: null, gpu: null }, busy: false, onDismiss: () => {}, onRestart: () => {} }))).toBe('');
  });
});
