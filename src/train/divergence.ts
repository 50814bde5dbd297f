import type { StepStats } from '../moco/moco';

/**
 * Reads a step's statistics (already on the CPU: no extra cost per step) for a run that has gone
 * wrong: a non-finite loss or similarity means the weights are NaN or infinite from here on; a
 * finite loss far above ln(K+1), the loss of a guess among K+1 keys, means the logits have blown up
 * (a tiny temperature, a huge learning rate). The messages say what happened and the likely cause.
 */

/** How the user sets the two knobs that cause most blow-ups: command-line flags or the app's sliders. */
export interface KnobNames {
  learningRate: string;
  temperature: string;
}

export const CLI_KNOBS: KnobNames = { learningRate: '--lr', temperature: '--temperature' };

/** Below this temperature the logits (cosine / T) are large enough to overflow float32's exp in the loss. */
const SMALL_TEMPERATURE = 0.01;

/** A loss this many times ln(K+1) is far from anything a working run shows. */
export const BLOW_UP_FACTOR = 3;

export type StepVerdict = { kind: 'ok' } | { kind: 'non-finite' | 'blow-up'; message: string };

export function checkStep(s: StepStats, knobs: KnobNames, defaultLr?: number): StepVerdict {
  const bad = [
    ['loss', s.loss],
    ['mean positive similarity', s.meanPositiveSimilarity],
    ['mean negative similarity', s.meanNegativeSimilarity],
  ].find(([, v]) => !Number.isFinite(v as number)) as [string, number] | undefined;
  const settings = `with learning rate ${formatNumber(s.learningRate)} and temperature ${formatNumber(s.temperature)}`;
  if (bad) {
    return { kind: 'non-finite', message: `the ${bad[0]} became ${bad[1]} at step ${s.step} ${settings}: ${likelyCause(s, knobs, defaultLr)}` };
  }
  const guess = Math.log(s.queueCapacity + 1);
  if (s.loss > BLOW_UP_FACTOR * guess) {
    return {
      kind: 'blow-up',
      message: `the loss is ${formatNumber(s.loss)} at step ${s.step} ${settings}, far above ln(K+1) = ${guess.toFixed(2)} (a guess among ${s.queueCapacity + 1} keys): ${likelyCause(s, knobs, defaultLr)}`,
    };
  }
  return { kind: 'ok' };
}

function likelyCause(s: StepStats, knobs: KnobNames, defaultLr?: number): string {
  if (s.temperature < SMALL_TEMPERATURE) {
    return `the temperature is too small (the logits are similarities divided by it) — raise ${knobs.temperature} (MoCo uses 0.07 to 0.2)`;
  }
  const usual = defaultLr !== undefined ? ` (the default here is ${formatNumber(defaultLr)})` : '';
  return `the learning rate is likely too high — lower ${knobs.learningRate}${usual}`;
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}
