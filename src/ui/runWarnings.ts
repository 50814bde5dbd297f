import type { GpuErrorWarning, LossWarning, RunStatus } from '../worker/types';

/**
 * The warnings of a run that trains on (a blown-up but finite loss, GPU errors no check caught),
 * less those the user dismissed. A dismissed loss warning stays hidden for the rest of its stretch
 * (it ends by itself once the loss is back down); a new stretch shows again. A dismissed GPU error
 * stays hidden until the GPU reports another. A new run starts with none dismissed.
 */
export interface RunWarnings {
  loss: LossWarning | null;
  gpu: GpuErrorWarning | null;
}

/** What names a warning for dismissal: the run and the stretch's first step; the run and the count of GPU errors. */
export interface WarningKeys {
  loss: string | null;
  gpu: string | null;
}

export const NONE_DISMISSED: WarningKeys = { loss: null, gpu: null };

export function warningKeys(status: RunStatus): WarningKeys {
  return {
    loss: status.lossWarning ? `${status.runId}:${status.lossWarning.fromStep}` : null,
    gpu: status.gpuError ? `${status.runId}:${status.gpuError.count}` : null,
  };
}

/** The warnings to show now: the status's, less the dismissed ones. */
export function shownWarnings(status: RunStatus, dismissed: WarningKeys): RunWarnings {
  const keys = warningKeys(status);
  return {
    loss: status.lossWarning && keys.loss !== dismissed.loss ? status.lossWarning : null,
    gpu: status.gpuError && keys.gpu !== dismissed.gpu ? status.gpuError : null,
  };
}

/** The keys after dismissing `which` of the warnings shown with `status`. */
export function dismissWarning(dismissed: WarningKeys, status: RunStatus, which: keyof WarningKeys): WarningKeys {
  return { ...dismissed, [which]: warningKeys(status)[which] };
}
