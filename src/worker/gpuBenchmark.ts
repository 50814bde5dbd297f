import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { benchmarkStep, environment } from '../perf/stepBenchmark';
import { errorMessage, probeWebGpu, tryBackend } from './backend';
import { benchSizes, describeSizes, fastestVariant, formatRatio, isSoftwareDevice, type BackendRun, type BenchReport, type BenchRequest } from './gpuBenchmarkReport';
import { BACKEND_LABELS, type BackendName } from './types';

interface WebGlBackendLike {
  gpgpu?: { gl?: WebGL2RenderingContext };
}

/** The WebGL renderer's name (e.g. "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device …)))"), to tell software rendering apart. */
function webglRenderer(): string | null {
  const gl = (tf.backend() as unknown as WebGlBackendLike).gpgpu?.gl;
  if (!gl) return null;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name: unknown = gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
  return typeof name === 'string' && name ? name : null;
}

/** Why a backend has no GPU time in the table (it was not profiled). */
const NO_TIMER: Record<BackendName, string> = {
  webgpu: "no GPU time: the adapter has no 'timestamp-query'",
  webgl: 'no GPU time: WebGL has no GPU timer here (EXT_disjoint_timer_query_webgl2), and wall time per kernel is not GPU time',
  wasm: 'no GPU time: WebAssembly runs on the processor',
  cpu: 'no GPU time: the CPU backend has no GPU timer',
};

/** Starts each backend to learn what device it runs on (which decides the sizes); the reason where it cannot start. */
async function startBackend(name: BackendName): Promise<BackendRun> {
  const label = BACKEND_LABELS[name];
  try {
    let device: string | null = null;
    if (name === 'webgpu') {
      const probe = await probeWebGpu();
      if (probe.reason) throw new Error(probe.reason);
      device = probe.adapter;
    }
    await tryBackend(name);
    if (name === 'webgl') device = webglRenderer();
    return { backend: name, device, software: name === 'cpu' || name === 'wasm' || isSoftwareDevice(device), result: null, error: null };
  } catch (e) {
    return { backend: name, device: null, software: false, result: null, error: `${label} unavailable: ${errorMessage(e)}` };
  }
}

/**
 * "Benchmark my GPU", the Worker's half: the MoCo step on every backend this browser has, each with our kernels and
 * stock ones where ours exist (WebGPU), through the same `benchmarkStep` as `npm run bench`.
 * Meant for a Worker of its own: it switches tfjs's backend and leaves each one disposed.
 */
export async function runBenchmarks(request: BenchRequest, log: (line: string) => void): Promise<BenchReport> {
  const started = performance.now();
  const runs: BackendRun[] = [];
  for (const name of request.backends ?? ['webgpu', 'webgl']) {
    log(`Starting ${BACKEND_LABELS[name]}…`);
    const run = await startBackend(name);
    log(run.error ?? `${BACKEND_LABELS[name]} ready${run.device ? ` on ${run.device}` : ''}${run.software ? ' (software rendering)' : ''}`);
    runs.push(run);
  }
  // One set of sizes for every backend, so that their img/s compare; the slowest device sets it.
  const sizes = benchSizes(
    request,
    runs.some((r) => r.error === null && r.software),
  );
  log(`Timing ${describeSizes(sizes)}`);

  for (const run of runs) {
    if (run.error !== null) continue;
    const label = BACKEND_LABELS[run.backend];
    try {
      if (!(await tf.setBackend(run.backend))) throw new Error('the backend failed to start again');
      await tf.ready();
      // Without a GPU timer tfjs's profile times each kernel on the wall clock with a read-back after
      // it: not GPU time, and a slow extra step on WebGL; so it is left out and the table says why.
      const timer = environment().gpuTimer;
      const profile = timer === 'timestamp-query' || timer === 'webgl-timer-query';
      const result = await benchmarkStep({
        preset: sizes.preset,
        batch: sizes.batch,
        version: sizes.version,
        queueSize: sizes.queueSize,
        warmup: sizes.warmup,
        steps: sizes.steps,
        profile,
        log,
      });
      if (!profile) result.notes.push(NO_TIMER[run.backend]);
      run.result = result;
      const speedup = result.speedup.imagesPerSecond;
      log(
        `${label}: ${result.variants.map((v) => `${v.variant} ${v.imagesPerSecond.toFixed(2)} img/s`).join(', ')}${speedup != null ? ` (ours ${formatRatio(speedup)} stock)` : ''}`,
      );
    } catch (e) {
      run.error = `${label} failed: ${errorMessage(e)}`;
      log(run.error);
    } finally {
      // Frees this backend's textures or buffers before the next one allocates its own.
      tf.removeBackend(run.backend);
    }
  }
  return { sizes, runs, fastest: fastestVariant(runs), ms: performance.now() - started };
}
