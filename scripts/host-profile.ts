/**
 * Issue #15, lever 4: where the host's part of a MoCo step goes (the time from the step's start until
 * its commands are all submitted, before its read-back waits on the GPU; `src/perf/hostTimer.ts`).
 * WebGPU in Node through Dawn (on SwiftShader without a GPU), our kernels on; per preset a few
 * warm-up steps, then timed steps under V8's CPU profiler (the same sampler as `node --cpu-prof`,
 * started through `node:inspector` after the warm-up so that compilation stays out). Only the
 * samples inside the steps' host parts count: each one's leaf frame by category (tfjs's engine,
 * tfjs-webgpu's runner, its buffer manager, its programs, our kernels, the method, Dawn's native
 * calls, GC), the top functions by self time, and a few functions' inclusive time. SwiftShader runs
 * the GPU's work on other threads of the same shared cores: read self times, over several steps.
 *
 *   npx esbuild scripts/host-profile.ts --bundle --platform=node --format=esm --sourcemap \
 *     --external:webgpu '--external:@tensorflow/*' --outfile=dist-node/host-profile.mjs
 *   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
 *   node dist-node/host-profile.mjs --preset tiny,resnet8 --batch 2 --warmup 10 --steps 8 \
 *     [--variants custom,custom+BindingCache] [--queue 16] [--profile false] [--flag NAME=VALUE]
 *     [--include OPT_IN,…] [--out DIR] [--raw DIR] [--tag NAME]
 * writes DIR/host-{profile,ab}-PRESET-bBATCH.json and .txt (the summary); --raw also keeps the
 * .cpuprofile. With several variants, steps alternate between them (one model each, same images,
 * same start: the losses must agree to the bit), and each gets its own figures; `--profile false`
 * for the A/B alone (the sampler costs the host time too). Besides the wall time of the host part,
 * the main thread's CPU time over the step (Linux's schedstat): on a machine shared with other
 * jobs the wall time also counts the waits for a core.
 */
import { Session } from 'node:inspector/promises';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useCustomKernels } from '../src/kernels/registry';
import { bindingCacheStats } from '../src/kernels/webgpu/bindingCache';
import { mocoConfig } from '../src/moco/config';
import { MoCo } from '../src/moco/moco';
import type { PresetName } from '../src/moco/resnet';
import { countDispatches } from '../src/perf/dispatchCounter';
import { timeHostPart } from '../src/perf/hostTimer';
import { installNodeWebGpu } from '../src/util/nodeWebgpu';

const args = new Map<string, string>();
const argv = process.argv.slice(2);
const flags: Record<string, number | boolean | string> = {};
for (let i = 0; i < argv.length; i += 2) {
  if (argv[i] === '--flag') {
    const [name, value] = argv[i + 1].split('=');
    flags[name] = value === 'true' ? true : value === 'false' ? false : Number.isNaN(Number(value)) ? value : Number(value);
  } else args.set(argv[i].replace(/^--/, ''), argv[i + 1]);
}
const presets = (args.get('preset') ?? 'tiny,resnet8').split(',') as PresetName[];
const batch = Number(args.get('batch') ?? 2);
const warmup = Number(args.get('warmup') ?? 10);
const steps = Number(args.get('steps') ?? 8);
const include = (args.get('include') ?? '').split(',').filter(Boolean);
/** Variants as the benchmark names them: custom, custom+OPT_IN… (steps alternate between them). */
const variants = (args.get('variants') ?? 'custom').split(',');
const queue = Number(args.get('queue') ?? 16);
const profiling = args.get('profile') !== 'false';
const tag = args.get('tag') ?? '';
const out = args.get('out') ?? 'results';
const raw = args.get('raw');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where a frame's code comes from: the tfjs bundles by their file and (one bundle holds the whole
 * backend) class; ours through the bundle's source map (this script runs bundled, as on the GPU
 * machine: tsx adds a `__name` call per closure, which the GPU bundle has not).
 */
const sourceMaps = new Map<string, SourceMap | null>();
function sourceOf(f: CallFrame): string {
  if (!f.url.startsWith('file://') || !f.url.includes('/dist-node/')) return f.url;
  const path = fileURLToPath(f.url);
  if (!sourceMaps.has(path)) sourceMaps.set(path, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null);
  const entry = sourceMaps.get(path)?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  return entry?.originalSource ? `${entry.originalSource}:${(entry.originalLine ?? 0) + 1}` : f.url;
}

function category(name: string, source: string): string {
  if (name === '(garbage collector)') return 'V8: garbage collection';
  if (name === '(program)') return 'V8/native, unattributed ((program))';
  if (name === '(idle)') return 'idle';
  if (source.includes('tfjs-backend-webgpu')) {
    if (name.startsWith('BufferManager.')) return 'tfjs-webgpu: buffer manager';
    if (name.startsWith('WebGPUBackend.')) return 'tfjs-webgpu: runner (runWebGPUProgram, recordAndSubmit, makeUniforms, tensor map)';
    return 'tfjs-webgpu: kernels and programs (host side)';
  }
  if (source.includes('tfjs-core')) return 'tfjs-core: engine, ops, tape, tidy';
  if (source.includes('src/kernels/webgpu/program.ts')) return 'ours: program.ts (runner)';
  if (source.includes('src/kernels/')) return 'ours: kernels (host side)';
  if (source.includes('src/moco/')) return 'ours: the method (src/moco)';
  if (source.includes('src/perf/') || source.includes('scripts/')) return 'measurement (hostTimer, this script)';
  if (source.includes('src/util/')) return 'ours: util (random draws)';
  if (source.startsWith('node:')) return 'node internals';
  return `other JavaScript`;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Self and inclusive time (ms) of the samples that fall in `windows` (profile clock, µs). */
function summarise(profile: Profile, windows: [number, number][]) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  // The same per step (window): a step that the machine's load stalled inside one function weighs once in the medians.
  const selfPerStep = windows.map(() => new Map<string, number>());
  const selfFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  let w = 0;
  const sorted = [...windows].sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // The sample covers (t − Δ, t]; count it by its end.
    while (w < sorted.length && sorted[w][1] < t) w++;
    if (w >= sorted.length) break;
    if (t < sorted[w][0]) continue;
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i]) / 1000;
    total += ms;
    const leaf = byId.get(profile.samples[i])!;
    const { functionName, url } = leaf.callFrame;
    let c: string;
    let fnKey: string;
    if (url === '' && !functionName.startsWith('(')) {
      // A native callback (Dawn's bindings are anonymous; V8 builtins named): by its JavaScript caller.
      let caller: ProfileNode | undefined = leaf;
      while (caller && caller.callFrame.url === '') caller = byId.get(parent.get(caller.id) ?? -1);
      const callerName = caller?.callFrame.functionName || '(anonymous)';
      const callerCategory = caller ? category(callerName, sourceOf(caller.callFrame)) : 'none';
      c = `native (Dawn, V8 builtins) called by ${callerCategory.split(':')[0]}`;
      fnKey = `native ${functionName || '(anonymous)'} ← ${callerName} [${callerCategory.split(':')[0]}]`;
    } else {
      const source = sourceOf(leaf.callFrame).replace(/^.*node_modules\//, '').replace(/^.*\/(src|scripts)\//, '$1/');
      c = category(functionName, source);
      fnKey = `${functionName || '(anonymous)'} ${source}${source.includes(':') ? '' : `:${leaf.callFrame.lineNumber + 1}`}`;
    }
    self.set(c, (self.get(c) ?? 0) + ms);
    const step = selfPerStep[windows.indexOf(sorted[w])];
    step.set(c, (step.get(c) ?? 0) + ms);
    selfFn.set(fnKey, (selfFn.get(fnKey) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const name = byId.get(id)!.callFrame.functionName;
      if (!seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
      }
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    Object.fromEntries(
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => [k, round(v)]),
    );
  const INCLUSIVE = [
    'runKernel', 'runKernelFunc', 'Engine.runKernel', 'Engine.runKernelFunc', 'Engine.tidy', 'Engine.scopedRun', 'WebGPUBackend.runWebGPUProgram', 'WebGPUBackend.recordAndSubmit',
    'WebGPUBackend.makeUniforms', 'WebGPUBackend.submitQueue', 'WebGPUBackend.uploadToGPU', 'WebGPUBackend.makeTensorInfo', 'WebGPUBackend.disposeData', 'BufferManager.acquireBuffer',
    'BufferManager.releaseBuffer', 'WebGPUBackend.tensorToBinding', 'tidy', 'scopedRun', 'gradients', 'runWebGPUProgram', 'recordAndSubmit', 'makeUniforms', 'tensorToBinding', 'createBindGroup',
    'getBindGroupLayout', 'writeBuffer', 'submitQueue', 'submit', 'acquireBuffer', 'releaseBuffer', 'makeShaderKey', 'runProgram', 'uploadToGPU', 'makeTensorInfo',
    'disposeData', 'dispose', 'step',
  ];
  const medianPerStep = new Map([...self.keys()].map((c) => [c, median(selfPerStep.map((m) => m.get(c) ?? 0))]));
  return {
    sampledMs: round(total),
    selfByCategory: top(self, 50),
    medianSelfPerStepByCategory: top(medianPerStep, 50),
    topSelfFunctions: top(selfFn, 30),
    inclusive: Object.fromEntries(INCLUSIVE.filter((n) => inclusive.has(n)).map((n) => [n, round(inclusive.get(n)!)])),
  };
}

/** The main thread's CPU time in ms (Linux: /proc/thread-self/schedstat, ns on the CPU): the host's work without the time a loaded machine kept it waiting. */
function threadCpuMs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
}

await installNodeWebGpu();
if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU backend (Dawn): set LD_LIBRARY_PATH and VK_ICD_FILENAMES for SwiftShader');
await tf.ready();
for (const [f, v] of Object.entries(flags)) tf.env().set(f, v);
mkdirSync(out, { recursive: true });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
const select = (v: string) => useCustomKernels(true, { include: [...include, ...v.split('+').slice(1)] });

for (const preset of presets) {
  const images = tf.tidy(() => tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 11)) as tf.Tensor4D;
  const models = new Map<string, MoCo>();
  const dispatches = new Map<string, number>();
  for (const v of variants) {
    select(v);
    const moco = new MoCo(mocoConfig('v2', preset, { batchSize: batch, queueSize: queue }));
    moco.measureKeyEncoder = false;
    models.set(v, moco);
    for (let i = 0; i < warmup; i++) await moco.step(images);
    dispatches.set(v, (await countDispatches(tf.backend(), () => moco.step(images))).counts.total);
  }
  const windows = new Map<string, [number, number][]>(variants.map((v) => [v, []]));
  // The main thread's CPU time at the step's first read-back (where its host part ends; hostTimer wraps this in turn).
  const backend = tf.backend() as unknown as { read(dataId: object): Promise<unknown> };
  const read = backend.read;
  let cpuAtRead: number | null = null;
  backend.read = function (this: unknown, dataId: object) {
    const values = read.call(this, dataId);
    cpuAtRead ??= threadCpuMs();
    return values;
  };
  const figures = new Map(variants.map((v) => [v, { host: [] as number[], cpu: [] as number[], wall: [] as number[], losses: [] as number[], misses: [] as number[] }]));
  // The profiler's clock is the process's monotonic clock in µs (hrtime; checked below).
  const before = Number(process.hrtime.bigint() / 1000n);
  if (profiling) await session.post('Profiler.start');
  // Steps alternate between the variants, so that both see the same machine load.
  for (let i = 0; i < steps; i++) {
    for (const v of variants) {
      select(v);
      const t0 = Number(process.hrtime.bigint() / 1000n);
      cpuAtRead = null;
      const misses0 = bindingCacheStats(backend).misses;
      const cpu0 = threadCpuMs();
      const r = await timeHostPart(backend, () => models.get(v)!.step(images));
      windows.get(v)!.push([t0, t0 + r.hostMs * 1000]);
      const f = figures.get(v)!;
      f.host.push(r.hostMs);
      f.cpu.push((cpuAtRead ?? threadCpuMs()) - cpu0);
      f.wall.push(r.wallMs);
      f.losses.push(r.result.loss);
      f.misses.push(bindingCacheStats(backend).misses - misses0);
    }
  }
  const profile = profiling ? ((await session.post('Profiler.stop')) as { profile: Profile }).profile : null;
  if (profile) console.error(`profile clock check: hrtime before Profiler.start ${before} µs, profile.startTime ${profile.startTime} µs (Δ ${profile.startTime - before} µs)`);
  const summary = {
    preset,
    batch,
    queue,
    warmup,
    steps,
    flags,
    include,
    variants: Object.fromEntries(
      variants.map((v) => {
        const f = figures.get(v)!;
        const n = dispatches.get(v)!;
        const w = windows.get(v)!;
        return [
          v,
          {
            dispatchesPerStep: n,
            hostMs: f.host.map((x) => round(x)),
            mainThreadCpuMs: f.cpu.map((x) => round(x)),
            wallMs: f.wall.map((x) => round(x)),
            losses: f.losses,
            bindGroupsMadePerStep: f.misses,
            medianHostMs: round(median(f.host)),
            medianMainThreadCpuMs: round(median(f.cpu)),
            medianWallMs: round(median(f.wall)),
            medianHostUsPerDispatch: round((median(f.host) * 1000) / n, 1),
            medianCpuUsPerDispatch: round((median(f.cpu) * 1000) / n, 1),
            profile: profile && { windowsInsideProfile: w.every(([a, b]) => a >= profile.startTime && b <= profile.endTime), ...summarise(profile, w) },
          },
        ];
      }),
    ),
  };
  const base = join(out, `host-${profiling ? 'profile' : 'ab'}-${preset}-b${batch}${tag ? `-${tag}` : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(summary, null, 1)}\n`);
  if (raw && profile) {
    mkdirSync(raw, { recursive: true });
    writeFileSync(`${join(raw, base.split('/').at(-1)!)}.cpuprofile`, JSON.stringify(profile));
  }
  const lines: string[] = [];
  for (const [v, r] of Object.entries(summary.variants)) {
    lines.push(
      `${preset} b${batch} ${v}: ${r.dispatchesPerStep} dispatches per step; host ms ${r.hostMs.join(', ')} (median ${r.medianHostMs}, ${r.medianHostUsPerDispatch} µs per dispatch); main thread CPU ms ${r.mainThreadCpuMs.join(', ')} (median ${r.medianMainThreadCpuMs}, ${r.medianCpuUsPerDispatch} µs per dispatch); wall ms median ${r.medianWallMs}; bind groups made by the cache per step ${r.bindGroupsMadePerStep.join(', ')}; last loss ${r.losses.at(-1)}`,
    );
    if (!r.profile) continue;
    lines.push(
      `  sampled in the host parts: ${r.profile.sampledMs} ms over ${steps} steps (windows inside the profile: ${r.profile.windowsInsideProfile})`,
      '  self time by category (ms, all steps):',
      ...Object.entries(r.profile.selfByCategory).map(([k, ms]) => `    ${String(ms).padStart(9)}  ${String(round((100 * ms) / r.profile!.sampledMs, 1)).padStart(5)}%  ${k}`),
      '  self time by category, median over the steps (ms per step):',
      ...Object.entries(r.profile.medianSelfPerStepByCategory).map(([k, ms]) => `    ${String(ms).padStart(9)}  ${k}`),
      '  top functions by self time (ms):',
      ...Object.entries(r.profile.topSelfFunctions).map(([k, ms]) => `    ${String(ms).padStart(9)}  ${k}`),
      '  inclusive time (ms):',
      ...Object.entries(r.profile.inclusive).map(([k, ms]) => `    ${String(ms).padStart(9)}  ${k}`),
    );
  }
  lines.push(`binding cache (opt-in BindingCache): ${JSON.stringify(bindingCacheStats(tf.backend()))}`);
  const same = variants.every((v) => figures.get(v)!.losses.every((l, i) => l === figures.get(variants[0])!.losses[i]));
  lines.push(`losses identical step by step across the variants: ${same}`);
  writeFileSync(`${base}.txt`, `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
  for (const m of models.values()) m.dispose();
  images.dispose();
  delete (backend as Partial<typeof backend>).read;
}
session.disconnect();
