/**
 * End-to-end plumbing: build the app with Vite's API, serve it on localhost (a secure context, as
 * WebGPU requires), drive Debian's Chromium with playwright-core, and read main-thread task times
 * from a Chromium trace.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS } from '../../src/bench/chromium';
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS = resolve(ROOT, 'test-results');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** The bench's flags without WebGPU and SwiftShader WebGL: the app must pick its backend itself. */
const BASE_FLAGS = CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu' && f !== '--enable-unsafe-swiftshader');

/**
 * Chromium with WebGPU (on SwiftShader here), or without: then navigator.gpu has no adapter, the
 * real fallback case. `extraArgs` adds flags (`NO_GL`: no WebGL either).
 */
/** No GPU and no software GL: WebGL is unavailable too (`--disable-webgl` alone leaves it on in headless Chromium). */
export const NO_GL = ['--disable-gpu', '--disable-software-rasterizer'];

export function launchChromium(webgpu: boolean, extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...(webgpu ? ['--enable-unsafe-webgpu', ...BASE_FLAGS] : BASE_FLAGS), ...extraArgs] });
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createNetServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Production build into test-results/, served by `vite preview`. */
export async function buildAndPreview(outName = 'e2e-dist'): Promise<{ url: string; server: PreviewServer; buildMs: number }> {
  // One folder per test file: vitest runs files in parallel, and a build empties its folder first.
  const outDir = resolve(RESULTS, outName);
  await mkdir(RESULTS, { recursive: true });
  const start = performance.now();
  // Vitest sets NODE_ENV=test, which Vite would honour, building React's development bundle.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: ROOT, mode: 'production', logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const buildMs = performance.now() - start;
  const port = await freePort();
  const server = await preview({ root: ROOT, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port, strictPort: true, open: false } });
  return { url: `http://localhost:${port}/`, server, buildMs };
}

/** The Vite dev server (what `npm start` runs). */
export async function startDevServer(): Promise<{ url: string; server: ViteDevServer }> {
  const port = await freePort();
  const server = await createServer({ root: ROOT, logLevel: 'warn', server: { host: '127.0.0.1', port, strictPort: true, open: false } });
  await server.listen();
  return { url: `http://localhost:${port}/`, server };
}

/** Records every long task (over 50 ms of wall time) of the page's main thread, from the first script on. */
export async function observeLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

export async function longTasksBetween(page: Page, from: number, to: number): Promise<{ start: number; duration: number }[]> {
  const all = await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks);
  return all.filter((t) => t.start >= from && t.start <= to);
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: Record<string, unknown> };
}

export interface MainThreadTasks {
  /** Tasks of the page's main thread, wall time and CPU (thread) time in ms. */
  tasks: { wallMs: number; cpuMs: number }[];
  maxCpuMs: number;
  maxWallMs: number;
  /** For tasks over 20 ms of CPU: what they contained (the longest events within, with their CPU ms). */
  heavy: string[];
}

/**
 * Main-thread tasks of the page's renderer from a trace. Wall time includes the time the thread
 * waited for a core; CPU time is what the page's own work cost.
 */
export function mainThreadTasks(traceJson: Buffer): MainThreadTasks {
  const events = (JSON.parse(traceJson.toString()) as { traceEvents: TraceEvent[] }).traceEvents;
  const mains = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const onMain = events.filter((e) => e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`));
  const runTasks = onMain.filter((e) => e.name === 'RunTask');
  const tasks = runTasks.map((e) => ({ wallMs: (e.dur ?? 0) / 1000, cpuMs: (e.tdur ?? e.dur ?? 0) / 1000 }));
  const heavy = runTasks
    .filter((t) => (t.tdur ?? 0) > 20_000)
    .map((t) => {
      const end = t.ts + (t.dur ?? 0);
      const inside = onMain
        .filter((e) => e !== t && e.ts >= t.ts && e.ts + (e.dur ?? 0) <= end && (e.tdur ?? 0) > 2000)
        .slice(0, 6)
        .map((e) => {
          const d = e.args?.data;
          const where = d?.url ? ` ${String(d.url).split('/').pop()}:${String(d.lineNumber)}:${String(d.columnNumber)}` : '';
          return `${e.name}${d?.functionName ? ` ${String(d.functionName)}` : ''}${where} ${((e.tdur ?? 0) / 1000).toFixed(0)}`;
        });
      return `${((t.tdur ?? 0) / 1000).toFixed(0)} ms CPU: ${inside.join(', ')}`;
    });
  return {
    tasks,
    maxCpuMs: Math.max(0, ...tasks.map((t) => t.cpuMs)),
    maxWallMs: Math.max(0, ...tasks.map((t) => t.wallMs)),
    heavy,
  };
}

export const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline'];

/** Polls `fn` in the page until it returns a truthy value. */
export async function waitFor<T>(page: Page, what: string, fn: () => Promise<T>, timeoutMs: number, intervalMs = 250): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await page.waitForTimeout(intervalMs);
  }
}
