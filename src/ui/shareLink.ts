import type { LiveParams } from '../moco/config';
import { PRESET_NAMES, type PresetName } from '../moco/resnet';
import { learningRateScale, MOMENTUM_MAX, queueSizes, temperatureScale } from './scales';
import { BATCH_SIZES, DATASET_SIZES, STEP_BUDGETS } from './setupChoices';
import type { TrainingSetup } from '../worker/types';

/** The setup form (as useTraining's SetupForm): a setup without its live parameters. */
type SetupForm = Omit<TrainingSetup, 'params'>;

/**
 * A setup and its live parameters as a link's query string (TensorFlow Playground style), e.g.
 * `?preset=tiny&method=v2&batch=16&data=sample&steps=0&seed=1&m=0.99&K=4096&T=0.2&lr=0.00188`.
 * Opening such a link sets them, ready to start. The user's own files cannot travel in a link:
 * they are written as the built-in shapes.
 */
export interface SharedSetup {
  setup: SetupForm;
  params: LiveParams;
  /** The link asks for the CIFAR-10 sample (read once the Worker is up). */
  sample: boolean;
  /** Parameters of the link that could not be used, each with the reason, e.g. "batch=17 (not one of 8, 16, …)". */
  ignored: string[];
}

/** The keys a shared link uses; others (`backend`, `testHooks`) are left alone. */
export const LINK_KEYS = ['preset', 'method', 'batch', 'data', 'n', 'steps', 'seed', 'm', 'K', 'T', 'lr'] as const;

export function encodeSetupLink(setup: SetupForm, params: LiveParams): string {
  const q = new URLSearchParams();
  q.set('preset', setup.preset);
  q.set('method', setup.version);
  q.set('batch', String(setup.batchSize));
  if (setup.dataset === 'sample') q.set('data', 'sample');
  else {
    q.set('data', 'shapes');
    q.set('n', String(setup.datasetSize));
  }
  q.set('steps', String(setup.stepBudget));
  q.set('seed', String(setup.seed));
  q.set('m', String(params.momentum));
  q.set('K', String(params.queueSize));
  q.set('T', String(params.temperature));
  q.set('lr', String(params.learningRate));
  return q.toString();
}

/**
 * The setup of a link over `base` (the app's default for this device): each value is checked
 * against what the form offers and, when out of reach, left at the default and reported. Live
 * parameters a link leaves out take the defaults of its setup (the learning rate of its batch, the
 * temperature of its method).
 */
export function decodeSetupLink(search: string, base: SetupForm, defaults: (setup: SetupForm) => LiveParams): SharedSetup {
  const q = new URLSearchParams(search);
  const ignored: string[] = [];
  const pick = <T>(key: string, parse: (raw: string) => T | undefined, why: string): T | undefined => {
    const raw = q.get(key);
    if (raw === null) return undefined;
    const value = parse(raw);
    if (value === undefined) ignored.push(`${key}=${raw} (${why})`);
    return value;
  };
  const number = (raw: string) => (raw.trim() === '' || !Number.isFinite(Number(raw)) ? undefined : Number(raw));
  const oneOf =
    <T extends number | string>(options: readonly T[]) =>
    (raw: string): T | undefined =>
      options.find((o) => String(o) === raw || (typeof o === 'number' && Number(raw) === o));
  const within = (lo: number, hi: number) => (raw: string) => {
    const v = number(raw);
    return v !== undefined && v >= lo && v <= hi ? v : undefined;
  };
  const list = (options: readonly (number | string)[]) => `not one of ${options.join(', ')}`;

  const setup: SetupForm = { ...base, dataset: 'synthetic' };
  setup.preset = pick<PresetName>('preset', oneOf(PRESET_NAMES), list(PRESET_NAMES)) ?? base.preset;
  setup.version = pick('method', oneOf(['v1', 'v2'] as const), list(['v1', 'v2'])) ?? base.version;
  setup.batchSize = pick('batch', oneOf(BATCH_SIZES), list(BATCH_SIZES)) ?? base.batchSize;
  const data = pick('data', oneOf(['shapes', 'sample'] as const), list(['shapes', 'sample']));
  setup.datasetSize = pick('n', oneOf(DATASET_SIZES), list(DATASET_SIZES)) ?? base.datasetSize;
  setup.stepBudget = pick('steps', oneOf(STEP_BUDGETS), list(STEP_BUDGETS)) ?? base.stepBudget;
  setup.seed = pick('seed', (raw) => { const v = number(raw); return v !== undefined && Number.isInteger(v) && v >= 0 && v < 2 ** 32 ? v : undefined; }, 'not an integer from 0 to 4294967295') ?? base.seed;

  const sizes = queueSizes(setup.batchSize);
  const fallback = defaults(setup);
  const tMin = temperatureScale.toValue(0);
  const tMax = temperatureScale.toValue(temperatureScale.steps);
  const lrMin = learningRateScale.toValue(0);
  const lrMax = learningRateScale.toValue(learningRateScale.steps);
  const params: LiveParams = {
    momentum: pick('m', within(0, MOMENTUM_MAX), `not in [0, ${MOMENTUM_MAX}]`) ?? fallback.momentum,
    queueSize: pick('K', oneOf(sizes), `at batch ${setup.batchSize}, ${list(sizes)}`) ?? fallback.queueSize,
    temperature: pick('T', within(tMin, tMax), `not in [${tMin}, ${tMax}]`) ?? fallback.temperature,
    learningRate: pick('lr', within(lrMin, lrMax), `not in [${lrMin}, ${lrMax}]`) ?? fallback.learningRate,
  };
  return { setup, params, sample: data === 'sample', ignored };
}

/** Whether the page was opened from a shared link (any of its keys present). */
export function isSetupLink(search: string): boolean {
  const q = new URLSearchParams(search);
  return LINK_KEYS.some((k) => q.has(k));
}

/**
 * Puts `link` on the clipboard; rejects where it cannot, so that the caller shows the link to copy
 * by hand: the browser refused, or the page has no clipboard at all (`navigator.clipboard` is
 * missing on an insecure origin, such as the app served over plain HTTP on a classroom's network),
 * where the property's read throws, which here rejects instead of escaping the click unseen.
 */
export async function copyLink(link: string): Promise<void> {
  await navigator.clipboard.writeText(link);
}
