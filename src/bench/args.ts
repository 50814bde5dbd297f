import { isPresetName, PRESET_NAMES, type PresetName } from '../moco/resnet';
import { isVariant, type BenchOptions, type Variant } from '../perf/stepBenchmark';

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
  --except LIST      custom kernels or fused ops to leave stock (e.g. Conv2DBackpropFilter)
  --include LIST     opt-in custom kernels to use too (Conv2DBackpropInput)
  --flag NAME=VALUE  a tfjs environment flag for the run (repeatable)
  --check            check our kernels against the stock ones instead (exit 1 on a mismatch;
                     with --count-only, the dispatch counts follow)
  --out DIR          results folder (default results)
  --help`;

export class BenchUsageError extends Error {}

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

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

function int(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new BenchUsageError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

function flagValue(v: string): number | boolean | string {
  if (v === 'true' || v === 'false') return v === 'true';
  return v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

export function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  const a: BenchArgs = {
    presets: ['tiny'],
    batch: 8,
    presetBatch: {},
    steps: 3,
    warmup: 1,
    queueSize: 4096,
    where: ['node', 'chromium'],
    backends: ['webgpu', 'webgl'],
    countOnly: false,
    profile: true,
    except: [],
    include: [],
    variants: null,
    flags: {},
    check: false,
    out: 'results',
    resultFile: null,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && arg !== '--flag') [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new BenchUsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--help':
      case '-h':
        return 'help';
      case '--preset': {
        a.presets = [];
        a.presetBatch = {};
        for (const entry of list(next())) {
          const [name, batch] = entry.split(':');
          if (!isPresetName(name)) throw new BenchUsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got '${name}'`);
          a.presets.push(name);
          if (batch !== undefined) a.presetBatch[name] = int('preset batch', batch, 2);
        }
        break;
      }
      case '--batch':
        a.batch = int('batch', next(), 2);
        break;
      case '--steps':
        a.steps = int('steps', next(), 1);
        break;
      case '--warmup':
        a.warmup = int('warmup', next(), 0);
        break;
      case '--queue':
        a.queueSize = int('queue', next(), 1);
        break;
      case '--where': {
        const w = list(next());
        for (const x of w) if (x !== 'node' && x !== 'chromium') throw new BenchUsageError(`--where takes node and/or chromium, got '${x}'`);
        a.where = w as BenchArgs['where'];
        break;
      }
      case '--backend': {
        const b = list(next());
        for (const x of b) if (!['webgpu', 'webgl', 'cpu'].includes(x)) throw new BenchUsageError(`--backend takes webgpu, webgl, cpu, got '${x}'`);
        a.backends = b as BenchArgs['backends'];
        break;
      }
      case '--count-only':
        a.countOnly = true;
        break;
      case '--no-profile':
        a.profile = false;
        break;
      case '--except':
        a.except = list(next());
        break;
      case '--include':
        a.include = list(next());
        break;
      case '--variants': {
        const v = list(next());
        for (const x of v) if (!isVariant(x)) throw new BenchUsageError(`--variants takes stock, custom, custom+OPT_IN…, got '${x}'`);
        if (!v.length) throw new BenchUsageError('--variants needs stock, custom or custom+OPT_IN…');
        a.variants = v as Variant[];
        break;
      }
      case '--flag': {
        const f = next();
        const k = f.indexOf('=');
        if (k <= 0) throw new BenchUsageError(`--flag takes NAME=VALUE, got '${f}'`);
        a.flags[f.slice(0, k)] = flagValue(f.slice(k + 1));
        break;
      }
      case '--check':
        a.check = true;
        break;
      case '--out':
        a.out = next();
        break;
      case '--result-file':
        a.resultFile = next();
        break;
      default:
        throw new BenchUsageError(`Unknown option '${arg}'`);
    }
  }
  if (a.countOnly) {
    a.steps = 0;
    a.warmup = Math.max(a.warmup, 1);
    a.profile = false;
  }
  return a;
}

/** The argument list that reproduces `a` (for the child processes and the results file). */
export function benchArgv(a: BenchArgs, overrides: Partial<BenchArgs> = {}): string[] {
  const b = { ...a, ...overrides };
  const presets = b.presets.map((p) => (b.presetBatch[p] ? `${p}:${b.presetBatch[p]}` : p));
  const argv = ['--preset', presets.join(','), '--batch', String(b.batch), '--queue', String(b.queueSize), '--where', b.where.join(','), '--backend', b.backends.join(','), '--out', b.out];
  if (b.countOnly) argv.push('--count-only');
  else argv.push('--steps', String(b.steps), '--warmup', String(b.warmup));
  if (!b.profile && !b.countOnly) argv.push('--no-profile');
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
    except: a.except,
    include: a.include,
    ...(a.variants ? { variants: a.variants } : {}),
    flags: a.flags,
  };
}
