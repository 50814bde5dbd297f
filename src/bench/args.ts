import { PRESET_NAMES, type PresetName } from '../moco/resnet';
import { switchNameError } from '../kernels/registry';
import { isVariant, variantIncludes, type BenchOptions, type Variant } from '../perf/stepBenchmark';
import { integer, list, listOf, oneOf, parseOptions, UsageError } from '../util/options';

export const BENCH_USAGE = `usage: npm run bench -- [options]

Times MoCo's training step with our kernels and with tfjs's stock kernels in the same run, in Node
(WebGPU through Dawn) and in headless Chromium (WebGPU, and WebGL for the stock kernels), and writes
JSON results plus a table. Without a GPU, WebGPU runs on SwiftShader: keep sizes small.

  --preset LIST      presets, comma-separated, each NAME or NAME:BATCH (${PRESET_NAMES.join(', ')});
                     default tiny
  --batch N          images per step where a preset gives none (default 8)
  --steps N          timed steps per variant, median reported (default 3)
  --warmup N         untimed steps per variant first (default 1)
  --queue N          negatives in the queue (default 4096)
  --where LIST       node, chromium (default node,chromium)
  --backend LIST     webgpu, webgl, cpu (default webgpu,webgl; webgl only in Chromium)
  --variants LIST    stock, custom, custom+OPT_IN[+OPT_IN…] (default stock,custom on WebGPU),
                     timed alternating in one process: e.g. custom,custom+BatchNormRowSplit for an
                     A/B of an opt-in kernel
  --count-only       dispatch counts only: 1 warm-up step, no timing, no profile
  --no-profile       skip the profiled step (GPU time by kernel)
  --precompile       compile each variant's pipelines in parallel before its first step
                     (tfjs's WEBGPU_ENGINE_COMPILE_ONLY pass on a scratch model), timed apart
  --key-encoder      measure the key encoder's lag and consistency every step, as the app does
                     (off by default: the benchmark times training alone)
  --except LIST      custom kernels or fused ops to leave stock (e.g. Conv2DBackpropFilter)
  --include LIST     opt-in custom kernels to use too (Conv2DBackpropInput, TfjsGemmInputGradient)
  --flag NAME=VALUE  a tfjs environment flag for the run (repeatable)
  --check            check our kernels against the stock ones instead (exit 1 on a mismatch;
                     with --count-only, the dispatch counts follow); the MoCo-step check runs
                     once per custom variant, with its opt-ins and --include's (e.g. --variants
                     custom,custom+Conv2D+GemmWideTiles)
  --out DIR          results folder (default results)
  --help`;

export interface BenchArgs {
  presets: PresetName[];
  batch: number;
  /** Batch sizes given per preset (NAME:BATCH). */
  presetBatch: Partial<Record<PresetName, number>>;
  steps: number;
  warmup: number;
  queueSize: number;
  where: ('node' | 'chromium')[];
  backends: ('webgpu' | 'webgl' | 'cpu')[];
  countOnly: boolean;
  profile: boolean;
  precompile: boolean;
  /** Steps measure the key encoder's lag and consistency (MoCo.measureKeyEncoder). */
  keyEncoder: boolean;
  except: string[];
  include: string[];
  /** Null: both on WebGPU, stock elsewhere (benchmarkStep's default). */
  variants: Variant[] | null;
  flags: Record<string, number | boolean | string>;
  check: boolean;
  out: string;
  /** Internal: where a child process writes its JSON for the parent. */
  resultFile: string | null;
}

function flagValue(v: string): number | boolean | string {
  if (v === 'true' || v === 'false') return v === 'true';
  return v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

export function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  const values = parseOptions(argv, {
    preset: { type: 'string', default: 'tiny' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    queue: { type: 'string', default: '4096' },
    where: { type: 'string', default: 'node,chromium' },
    backend: { type: 'string', default: 'webgpu,webgl' },
    variants: { type: 'string' },
    'count-only': { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    'key-encoder': { type: 'boolean', default: false },
    precompile: { type: 'boolean', default: false },
    except: { type: 'string', default: '' },
    include: { type: 'string', default: '' },
    flag: { type: 'string', multiple: true, default: [] },
    check: { type: 'boolean', default: false },
    out: { type: 'string', default: 'results' },
    // Internal: set by the parent process for its children.
    'result-file': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  const presets: PresetName[] = [];
  const presetBatch: BenchArgs['presetBatch'] = {};
  for (const entry of list(values.preset)) {
    const [name, batch] = entry.split(':');
    const preset = oneOf('preset', name, PRESET_NAMES);
    presets.push(preset);
    if (batch !== undefined) presetBatch[preset] = integer('preset batch', batch, 2);
  }
  let variants: Variant[] | null = null;
  if (values.variants !== undefined) {
    variants = list(values.variants).map((v) => {
      if (!isVariant(v)) throw new UsageError(`--variants takes stock, custom, custom+OPT_IN…, got '${v}'`);
      return v;
    });
    if (!variants.length) throw new UsageError('--variants needs stock, custom or custom+OPT_IN…');
  }
  const include = list(values.include);
  const except = list(values.except);
  for (const [option, names] of [
    ['--variants', (variants ?? []).flatMap(variantIncludes)],
    ['--include', include],
    ['--except', except],
  ] as const) {
    const error = switchNameError(option, names);
    if (error) throw new UsageError(error);
  }
  const flags: BenchArgs['flags'] = {};
  for (const f of values.flag) {
    const k = f.indexOf('=');
    if (k <= 0) throw new UsageError(`--flag takes NAME=VALUE, got '${f}'`);
    flags[f.slice(0, k)] = flagValue(f.slice(k + 1));
  }
  const countOnly = values['count-only'];
  const steps = integer('steps', values.steps, 1);
  return {
    presets,
    batch: integer('batch', values.batch, 2),
    presetBatch,
    // --count-only: one untimed step and its dispatch counts.
    steps: countOnly ? 0 : steps,
    warmup: Math.max(integer('warmup', values.warmup, 0), countOnly ? 1 : 0),
    queueSize: integer('queue', values.queue, 1),
    where: listOf('where', values.where, ['node', 'chromium']),
    backends: listOf('backend', values.backend, ['webgpu', 'webgl', 'cpu']),
    countOnly,
    profile: !values['no-profile'] && !countOnly,
    precompile: values.precompile,
    keyEncoder: values['key-encoder'],
    except,
    include,
    variants,
    flags,
    check: values.check,
    out: values.out,
    resultFile: values['result-file'] ?? null,
  };
}

/** The opt-ins of each MoCo-step check under --check: one per custom variant of --variants (custom alone by default), --include's added. */
export function checkIncludes(a: BenchArgs): string[][] {
  const custom = (a.variants ?? ['custom']).filter((v) => v !== 'stock');
  return (custom.length ? custom : (['custom'] as Variant[])).map((v) => [...a.include, ...variantIncludes(v)]);
}

/** The argument list that reproduces `a` (for the child processes and the results file). */
export function benchArgv(a: BenchArgs, overrides: Partial<BenchArgs> = {}): string[] {
  const b = { ...a, ...overrides };
  const presets = b.presets.map((p) => (b.presetBatch[p] ? `${p}:${b.presetBatch[p]}` : p));
  const argv = ['--preset', presets.join(','), '--batch', String(b.batch), '--queue', String(b.queueSize), '--where', b.where.join(','), '--backend', b.backends.join(','), '--out', b.out];
  if (b.countOnly) argv.push('--count-only');
  else argv.push('--steps', String(b.steps), '--warmup', String(b.warmup));
  if (!b.profile && !b.countOnly) argv.push('--no-profile');
  if (b.precompile) argv.push('--precompile');
  if (b.keyEncoder) argv.push('--key-encoder');
  if (b.except.length) argv.push('--except', b.except.join(','));
  if (b.include.length) argv.push('--include', b.include.join(','));
  if (b.variants) argv.push('--variants', b.variants.join(','));
  for (const [k, v] of Object.entries(b.flags)) argv.push('--flag', `${k}=${v}`);
  if (b.check) argv.push('--check');
  if (b.resultFile) argv.push('--result-file', b.resultFile);
  return argv;
}

/** The batch size to run `preset` at. */
export function batchOf(a: BenchArgs, preset: PresetName): number {
  return a.presetBatch[preset] ?? a.batch;
}

/** What one benchmark run of `preset` takes from the command line, in Node and in the page alike. */
export function benchOptionsOf(a: BenchArgs, preset: PresetName): Omit<BenchOptions, 'log'> {
  return {
    preset,
    batch: batchOf(a, preset),
    steps: a.steps,
    warmup: a.warmup,
    queueSize: a.queueSize,
    profile: a.profile,
    precompile: a.precompile,
    measureKeyEncoder: a.keyEncoder,
    except: a.except,
    include: a.include,
    ...(a.variants ? { variants: a.variants } : {}),
    flags: a.flags,
  };
}
