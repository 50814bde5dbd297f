import * as tf from '@tensorflow/tfjs';
import { customKernelSettings, useCustomKernels } from '../kernels/registry';
import { compilePipelines } from '../kernels/precompile';
import { mocoConfig, type MocoVersion } from '../moco/config';
import { MoCo } from '../moco/moco';
import type { PresetName } from '../moco/resnet';
import { countDispatches, type DispatchCounts } from './dispatchCounter';
import { timeHostPart } from './hostTimer';

/**
 * Times MoCo's training step on the current tfjs backend, with our kernels and with tfjs's stock
 * kernels in the same run, so that the ratio compares like with like (same device, same load, same
 * process). Works in a page, a Worker and Node: it only needs the backend to be set.
 *
 * Per variant: the median images/s over the timed steps (after warm-up; wall time of
 * `MoCo.step`, which ends by reading the step's statistics back), the host's part of it (start →
 * everything recorded and submitted, `perf/hostTimer.ts`), the exact number of GPU compute
 * dispatches of one step (WebGPU only), GPU time per kernel over one profiled step (tf.profile:
 * timestamp queries on WebGPU where the adapter has 'timestamp-query', the disjoint timer query
 * on WebGL where available; null otherwise), and the live tensors after the steps (constant from
 * step to step unless something leaks).
 */

/**
 * Stock tfjs kernels, ours, or ours with opt-in kernels added (`custom+Conv2DBackpropInput`,
 * `custom+A+B`): alternating in one process, the fair A/B of an opt-in kernel.
 */
export type Variant = 'custom' | 'stock' | `custom+${string}`;

/** The opt-in kernels a variant adds to `include`. */
export function variantIncludes(v: Variant): string[] {
  return v.startsWith('custom+') ? v.slice('custom+'.length).split('+').filter(Boolean) : [];
}

export function isVariant(v: string): v is Variant {
  return v === 'custom' || v === 'stock' || (v.startsWith('custom+') && variantIncludes(v as Variant).length > 0);
}

export interface BenchOptions {
  preset: PresetName;
  batch: number;
  /** Timed steps per variant (the median is reported). */
  steps: number;
  /** Untimed steps first, per variant (pipeline compilation, buffer pools). */
  warmup: number;
  version?: MocoVersion;
  /** Negatives in the queue (default: MoCo's CIFAR setting, 4096). */
  queueSize?: number;
  /** Default: both on WebGPU (where our kernels are), stock only elsewhere. */
  variants?: Variant[];
  /** Count dispatches (WebGPU only; default true). */
  countDispatches?: boolean;
  /** Profile one step per variant for GPU time by kernel (default true). */
  profile?: boolean;
  /** Compile each variant's pipelines in parallel (a compile-only pass on a scratch model) before its first step. */
  precompile?: boolean;
  /** Steps measure the key encoder's lag and consistency, as the app's do (default false: training alone). */
  measureKeyEncoder?: boolean;
  /** Custom kernels or fused operations to leave stock in the custom variant. */
  except?: string[];
  /** Opt-in custom kernels to use in the custom variant. */
  include?: string[];
  /** tfjs environment flags set for the whole run (e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE). */
  flags?: Record<string, number | boolean | string>;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface VariantResult {
  variant: Variant;
  /** Median over the timed steps. */
  imagesPerSecond: number;
  medianStepMs: number;
  stepMs: number[];
  /**
   * Host ms of each timed step: its start until every command is recorded and submitted, i.e. until
   * its read-back (`perf/hostTimer.ts`); the rest of the wall time waits on the GPU. ≤ the step's wall ms.
   */
  hostStepMs: number[];
  /** Median of `hostStepMs`. */
  medianHostMs: number;
  /** Median host ms ÷ dispatches per step: the host's cost of one dispatch (null without a dispatch count). */
  hostMsPerDispatch: number | null;
  /**
   * The first (warm-up) step of this variant's model, null without warm-up: the time to the first step.
   * The first variant's includes compiling the programs every variant shares (tfjs's), later ones only their own.
   */
  firstStepMs: number | null;
  /** First step − median timed step: mostly pipeline compilation (and first uploads); null without both. */
  compileMs: number | null;
  /**
   * Whether this variant took the process's first step: only then do `firstStepMs` and `compileMs`
   * include compiling the programs every variant shares (tfjs's own); a later variant's reuse them.
   * To compare variants' compile times, run each in a process of its own (scripts/gpu-perf.sh does).
   */
  compiledFirst: boolean;
  /** With `precompile`: the parallel compilation before the first step (add it to firstStepMs for the time to the first step). */
  precompileMs: number | null;
  /** Compute dispatches in one step (null off WebGPU). */
  dispatchesPerStep: number | null;
  /** Tensors uploaded from the CPU in one step (each a staging buffer and the end of a compute pass; null off WebGPU). */
  uploadsPerStep?: number | null;
  /** The same by the tfjs kernel that first used the tensor. */
  uploadsByKernel?: Record<string, number> | null;
  /** Compute passes begun in one step (null off WebGPU). */
  passesPerStep?: number | null;
  /** The same, by WebGPU program. */
  dispatchesByProgram: Record<string, number> | null;
  /** The same, by tfjs kernel (`Add`, `Relu (backward)`, …): what a fusion would remove. */
  dispatchesByKernel?: Record<string, number> | null;
  /** GPU time of one (profiled) step, summed over kernels; null when the backend has no GPU timer. */
  gpuMsPerStep: number | null;
  /** By tfjs kernel, largest first. */
  gpuMsByKernel: Record<string, number> | null;
  /** The convolutions' share of the profiled step by kernel and shapes (a layer's, or several layers' of the same shape); null with no GPU time. */
  gpuMsByConvolution: ConvolutionTiming[] | null;
  /** Tensors the training state holds between steps (encoders, queue, optimizer; counted by disposing it). */
  liveTensors: number;
  /** Tensors left behind per step (0 unless something leaks; the first timed step excluded). */
  liveTensorGrowthPerStep: number;
  /** Loss of the last timed step (both variants see the same images and start from the same weights). */
  loss: number;
}

/**
 * The calls of one convolution kernel on one set of shapes in a profiled step: the forward
 * (`Conv2D`: x, filter → y), input gradient (`Conv2DBackpropInput`: dy, filter → dx) or weight
 * gradient (`Conv2DBackpropFilter`: x, dy → dW), for whichever program ran it (ours or tfjs's).
 */
export interface ConvolutionTiming {
  kernel: string;
  /** The kernel's inputs' shapes, in tfjs's order (above). */
  inputShapes: number[][];
  outputShape: number[];
  calls: number;
  /** GPU ms of all those calls. */
  ms: number;
  /** The same by WebGPU program (tfjs's profile names the programs each call dispatched; empty elsewhere). */
  programs: Record<string, number>;
}

/** The tfjs kernels whose calls `gpuMsByConvolution` lists. */
export const CONVOLUTION_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];

export interface BenchEnvironment {
  runtime: string;
  backend: string;
  adapter: string | null;
  timestampQuery: boolean | null;
  /** What "GPU time" is here: GPU timestamps, or (no GPU timer) tfjs's fallback of wall time per kernel with a read-back after each. */
  gpuTimer: 'timestamp-query' | 'webgl-timer-query' | 'wall time per kernel' | 'none';
  /** The WebGPU device's storage buffers per shader stage: how many parameters one update dispatch takes (null off WebGPU). */
  storageBuffersPerStage: number | null;
  tfjs: string;
}

export interface BenchResult {
  date: string;
  environment: BenchEnvironment;
  preset: PresetName;
  batch: number;
  steps: number;
  warmup: number;
  queueSize: number;
  parameters: number;
  flags: Record<string, number | boolean | string>;
  except: string[];
  include: string[];
  variants: VariantResult[];
  /** custom ÷ stock for img/s; stock ÷ custom for dispatches and GPU time (higher is better); null when a variant is missing. */
  speedup: { imagesPerSecond: number | null; dispatches: number | null; gpuTime: number | null };
  /** Why a figure is missing, where one is. */
  notes: string[];
}

interface WebGpuBackendLike {
  adapterInfo?: { vendor?: string; architecture?: string };
  device?: { features: { has(name: string): boolean }; limits: { maxStorageBuffersPerShaderStage: number } };
  timerAvailable?: () => boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function environment(): BenchEnvironment {
  const backendName = tf.getBackend();
  const b = tf.backend() as unknown as WebGpuBackendLike;
  const adapter = b.adapterInfo ? [b.adapterInfo.vendor, b.adapterInfo.architecture].filter(Boolean).join(' ') || null : null;
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  const runtime = typeof process !== 'undefined' && process.versions?.node ? `node ${process.versions.node}` : (nav?.userAgent ?? 'browser');
  const timestampQuery = backendName === 'webgpu' ? (b.device?.features.has('timestamp-query') ?? false) : null;
  // tfjs-webgpu times kernels with timestamp queries or not at all; other backends fall back to wall time.
  const gpuTimer =
    backendName === 'webgpu' ? (timestampQuery ? 'timestamp-query' : 'none') : backendName === 'webgl' && b.timerAvailable?.() ? 'webgl-timer-query' : 'wall time per kernel';
  const storageBuffersPerStage = backendName === 'webgpu' ? (b.device?.limits.maxStorageBuffersPerShaderStage ?? null) : null;
  return { runtime, backend: backendName, adapter, timestampQuery, gpuTimer, storageBuffersPerStage, tfjs: tf.version.tfjs };
}

/**
 * tfjs-webgpu's extra profile information of one kernel call, `Program: ms, Program: ms` (the
 * programs it dispatched, each with its GPU ms): by program, summed.
 */
export function programsOfCall(extraInfo: unknown): Record<string, number> {
  const programs: Record<string, number> = {};
  if (typeof extraInfo !== 'string') return programs;
  for (const part of extraInfo.split(', ')) {
    const colon = part.lastIndexOf(': ');
    const ms = Number(part.slice(colon + 2));
    if (colon > 0 && Number.isFinite(ms)) programs[part.slice(0, colon)] = (programs[part.slice(0, colon)] ?? 0) + ms;
  }
  return programs;
}

/** GPU time by tfjs kernel over one profiled step, and the convolutions' by shapes; null when the backend's timer gave nothing. */
async function profileStep(moco: MoCo, images: tf.Tensor4D): Promise<{ total: number; byKernel: Record<string, number>; byConvolution: ConvolutionTiming[] } | null> {
  const profile = await tf.profile(async () => {
    await moco.step(images);
    return [];
  });
  const backendName = tf.getBackend();
  const byKernel: Record<string, number> = {};
  const byConvolution = new Map<string, ConvolutionTiming>();
  let total = 0;
  let timed = false;
  for (const k of profile.kernels) {
    // Composite entries (tf.customGrad's forward pass) include the kernels listed on their own.
    if (!tf.getKernel(k.name, backendName)) continue;
    const ms = k.kernelTimeMs as unknown;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) continue;
    timed ||= ms > 0;
    byKernel[k.name] = (byKernel[k.name] ?? 0) + ms;
    total += ms;
    if (CONVOLUTION_KERNELS.includes(k.name)) {
      const inputShapes = k.inputShapes.map((s) => s ?? []);
      const outputShape = k.outputShapes[0] ?? [];
      const key = JSON.stringify([k.name, inputShapes, outputShape]);
      let c = byConvolution.get(key);
      if (!c) byConvolution.set(key, (c = { kernel: k.name, inputShapes, outputShape, calls: 0, ms: 0, programs: {} }));
      c.calls++;
      c.ms += ms;
      for (const [program, programMs] of Object.entries(programsOfCall(k.extraInfo))) c.programs[program] = (c.programs[program] ?? 0) + programMs;
    }
  }
  if (!timed) return null;
  const sorted = Object.fromEntries(Object.entries(byKernel).sort((a, b) => b[1] - a[1]));
  return { total, byKernel: sorted, byConvolution: [...byConvolution.values()] };
}

export async function benchmarkStep(options: BenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const backendName = tf.getBackend();
  const onWebGpu = backendName === 'webgpu';
  const variants = options.variants ?? (onWebGpu ? ['stock', 'custom'] : ['stock']);
  const queueSize = options.queueSize ?? 4096;
  const except = options.except ?? [];
  const include = options.include ?? [];
  const flags = options.flags ?? {};
  const notes: string[] = [];
  const env = environment();
  const settings = customKernelSettings();
  const savedFlags = Object.fromEntries(Object.keys(flags).map((f) => [f, tf.env().get(f)]));
  for (const [f, v] of Object.entries(flags)) tf.env().set(f, v);

  const images = tf.tidy(() => tf.randomUniform([options.batch, 32, 32, 3], 0, 1, 'float32', 11)) as tf.Tensor4D;
  const models = new Map<Variant, MoCo>();
  const select = (v: Variant) => useCustomKernels(v !== 'stock', { except, include: [...include, ...variantIncludes(v)] });
  const results: VariantResult[] = [];
  try {
    for (const v of variants) {
      select(v);
      const moco = new MoCo(mocoConfig(options.version ?? 'v2', options.preset, { batchSize: options.batch, queueSize }));
      // The training step alone unless asked: the app's key-encoder statistics are not training.
      moco.measureKeyEncoder = options.measureKeyEncoder ?? false;
      models.set(v, moco);
    }
    const parameters = models.values().next().value!.encoderQ.parameterCount();
    const firstStepMs = new Map<Variant, number>();
    const precompileMs = new Map<Variant, number>();
    for (const v of variants) {
      select(v);
      if (options.precompile && onWebGpu) {
        const scratch = new MoCo(mocoConfig(options.version ?? 'v2', options.preset, { batchSize: options.batch, queueSize }));
        try {
          precompileMs.set(v, await compilePipelines(() => scratch.step(images)));
        } finally {
          scratch.dispose();
        }
        log(`${backendName} ${options.preset} b${options.batch} ${v}: pipelines compiled in parallel in ${precompileMs.get(v)!.toFixed(0)} ms`);
      }
      for (let i = 0; i < options.warmup; i++) {
        const t = performance.now();
        await models.get(v)!.step(images);
        if (i === 0) firstStepMs.set(v, performance.now() - t);
        log(`${backendName} ${options.preset} b${options.batch} ${v}: warm-up step ${i + 1}/${options.warmup} ${(performance.now() - t).toFixed(0)} ms`);
      }
    }
    // Timed steps alternate between the variants, so that both see the same machine load.
    const stepMs = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    const hostMs = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    let earlyReadBacks = 0;
    const losses = new Map<Variant, number>();
    const tensorDeltas = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    for (let i = 0; i < options.steps; i++) {
      for (const v of variants) {
        select(v);
        const tensors = tf.memory().numTensors;
        const { result: stats, wallMs: ms, hostMs: host, readBacks } = await timeHostPart(tf.backend(), () => models.get(v)!.step(images));
        stepMs.get(v)!.push(ms);
        hostMs.get(v)!.push(host);
        earlyReadBacks = Math.max(earlyReadBacks, readBacks - 1);
        losses.set(v, stats.loss);
        tensorDeltas.get(v)!.push(tf.memory().numTensors - tensors);
        log(`${backendName} ${options.preset} b${options.batch} ${v}: step ${i + 1}/${options.steps} ${ms.toFixed(0)} ms (host ${host.toFixed(0)} ms), loss ${stats.loss.toFixed(4)}`);
      }
    }
    for (const v of variants) {
      select(v);
      const moco = models.get(v)!;
      let dispatches: DispatchCounts | null = null;
      if (onWebGpu && (options.countDispatches ?? true)) {
        dispatches = (await countDispatches(tf.backend(), () => moco.step(images))).counts;
        const sorted = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
        dispatches.byProgram = sorted(dispatches.byProgram);
        dispatches.byKernel = sorted(dispatches.byKernel);
        log(`${backendName} ${options.preset} b${options.batch} ${v}: ${dispatches.total} dispatches, ${dispatches.uploads} uploads, ${dispatches.passes} compute passes per step`);
      }
      const gpu = (options.profile ?? true) ? await profileStep(moco, images) : null;
      const ms = stepMs.get(v)!;
      const host = hostMs.get(v)!;
      const deltas = tensorDeltas.get(v)!.slice(1);
      const tensors = tf.memory().numTensors;
      moco.dispose();
      models.delete(v);
      results.push({
        variant: v,
        imagesPerSecond: ms.length ? (options.batch * 1000) / median(ms) : NaN,
        medianStepMs: ms.length ? median(ms) : NaN,
        stepMs: ms,
        hostStepMs: host,
        medianHostMs: host.length ? median(host) : NaN,
        hostMsPerDispatch: host.length && dispatches?.total ? median(host) / dispatches.total : null,
        firstStepMs: firstStepMs.get(v) ?? null,
        compileMs: firstStepMs.has(v) && ms.length ? firstStepMs.get(v)! - median(ms) : null,
        compiledFirst: v === variants[0],
        precompileMs: precompileMs.get(v) ?? null,
        dispatchesPerStep: dispatches?.total ?? null,
        uploadsPerStep: dispatches?.uploads ?? null,
        uploadsByKernel: dispatches?.uploadsByKernel ?? null,
        passesPerStep: dispatches?.passes ?? null,
        dispatchesByProgram: dispatches?.byProgram ?? null,
        dispatchesByKernel: dispatches?.byKernel ?? null,
        gpuMsPerStep: gpu?.total ?? null,
        gpuMsByKernel: gpu?.byKernel ?? null,
        gpuMsByConvolution: gpu?.byConvolution ?? null,
        liveTensors: tensors - tf.memory().numTensors,
        liveTensorGrowthPerStep: deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : 0,
        loss: losses.get(v) ?? NaN,
      });
    }
    if (earlyReadBacks)
      notes.push(`a step read back ${earlyReadBacks + 1} times: host ms ends at its first read-back, so it leaves out what the step recorded after it`);
    if (!onWebGpu) notes.push(`dispatch counts are for WebGPU only (backend ${backendName})`);
    if (options.warmup > 0 && variants.length > 1)
      notes.push(
        `first step ms (and compileMs): only ${variants[0]}'s include compiling the programs all variants share; the others (marked *) reuse them: run one variant per process to compare compile times`,
      );
    if (env.gpuTimer === 'wall time per kernel')
      notes.push(`"GPU ms" is tfjs's fallback without a GPU timer: wall time per kernel, each followed by a read-back (not GPU time)`);
    if ((options.profile ?? true) && results.some((r) => r.gpuMsPerStep === null))
      notes.push(
        onWebGpu
          ? `no GPU time: the adapter has no 'timestamp-query' (timestampQuery ${env.timestampQuery})`
          : `no GPU time: the ${backendName} backend's timer gave none (WebGL needs EXT_disjoint_timer_query_webgl2)`,
      );
    const get = (v: Variant) => results.find((r) => r.variant === v);
    const ratio = (num: number | null | undefined, den: number | null | undefined) => (num != null && den != null && den > 0 && Number.isFinite(num) ? num / den : null);
    const stock = get('stock');
    const custom = get('custom');
    return {
      date: new Date().toISOString(),
      environment: env,
      preset: options.preset,
      batch: options.batch,
      steps: options.steps,
      warmup: options.warmup,
      queueSize,
      parameters,
      flags,
      except,
      include,
      variants: results,
      speedup: {
        imagesPerSecond: ratio(custom?.imagesPerSecond, stock?.imagesPerSecond),
        dispatches: ratio(stock?.dispatchesPerStep, custom?.dispatchesPerStep),
        gpuTime: ratio(stock?.gpuMsPerStep, custom?.gpuMsPerStep),
      },
      notes,
    };
  } finally {
    for (const m of models.values()) m.dispose();
    images.dispose();
    useCustomKernels(settings.on, settings);
    for (const [f, v] of Object.entries(savedFlags)) tf.env().set(f, v as number | boolean | string);
  }
}
