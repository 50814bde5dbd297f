/**
 * End-to-end plumbing: build the app with Vite's API, serve it on localhost (a secure context, as
 * WebGPU requires), drive Debian's Chromium with playwright-core, open the app with a setup, read
 * what the page shows, and read main-thread task times from a Chromium trace.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect } from 'vitest';
import { CHROMIUM_FLAGS } from '../../src/bench/chromium';
import { running, tryLockFolder } from '../support/lockFolder';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS = resolve(ROOT, 'test-results');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** The bench's flags without WebGPU and SwiftShader WebGL: the app must pick its backend itself. */
export const BASE_FLAGS = CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu' && f !== '--enable-unsafe-swiftshader');

/**
 * Chromium with WebGPU (on SwiftShader here), or without: then navigator.gpu has no adapter, the
 * real fallback case. `extraArgs` adds flags (`NO_GL`: no WebGL either).
 */
/** No GPU and no software GL: WebGL is unavailable too (`--disable-webgl` alone leaves it on in headless Chromium). */
export const NO_GL = ['--disable-gpu', '--disable-software-rasterizer'];

export function launchChromium(webgpu: boolean, extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...(webgpu ? ['--enable-unsafe-webgpu', ...BASE_FLAGS] : BASE_FLAGS), ...extraArgs] });
}

/** No silent skip: without a browser the e2e tests would prove nothing (.ci/run installs Chromium). */
export function requireChromium(): void {
  if (!HAVE_CHROMIUM) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
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

/** What `vite build` reads: a change to any of these makes a new build. */
const BUILD_INPUTS = ['src', 'public', 'index.html', 'bench.html', 'vite.config.ts', 'tsconfig.json', 'package-lock.json'];

async function filesUnder(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => filesUnder(join(path, e.name))));
  return nested.flat().sort();
}

/** A hash of the build's inputs, paths and contents. */
async function buildKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const input of BUILD_INPUTS.filter((i) => existsSync(resolve(ROOT, i)))) {
    for (const file of await filesUnder(resolve(ROOT, input))) hash.update(file.slice(ROOT.length)).update('\0').update(await readFile(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The production build, made once for the current sources and shared by every e2e file: a build
 * takes 10–30 s of a CI core, and each of the 16 files that serve the app used to make its own. The
 * folder is named by a hash of the inputs (test-results/e2e-build-HASH), so a changed source makes
 * a new build and nothing stale is served. The longest files start first and together, so the
 * first to ask builds (it holds a lock folder, `.lock`) while the others wait for its folder; each
 * build goes to a folder of its own and is renamed into place whole, so a folder under the final
 * name is always complete, and a lock left by a killed run is taken over (tests/support/lockFolder.ts).
 * `buildMs`: how long the build took when it was made, by this file or an earlier one.
 */
export async function productionBuild(): Promise<{ outDir: string; buildMs: number }> {
  await mkdir(RESULTS, { recursive: true });
  const outDir = resolve(RESULTS, `e2e-build-${await buildKey()}`);
  const record = (dir: string) => join(dir, 'e2e-build.json');
  const made = async () => ({ outDir, buildMs: (JSON.parse(await readFile(record(outDir), 'utf8')) as { buildMs: number }).buildMs });
  const lock = `${outDir}.lock`;
  for (;;) {
    if (existsSync(outDir)) return made();
    if (await tryLockFolder(lock)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    if (existsSync(outDir)) return await made();
    const ownDir = `${outDir}.${process.pid}`;
    const start = performance.now();
    // Vitest sets NODE_ENV=test, which Vite would honour, building React's development bundle.
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await build({ root: ROOT, mode: 'production', logLevel: 'warn', build: { outDir: ownDir, emptyOutDir: true } });
    } finally {
      process.env.NODE_ENV = nodeEnv;
    }
    const buildMs = performance.now() - start;
    await writeFile(record(ownDir), JSON.stringify({ buildMs }));
    await rename(ownDir, outDir).catch(() => rm(ownDir, { recursive: true, force: true }));
    await removeEarlierBuilds(outDir);
    return { outDir, buildMs };
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** A build of sources older than ten minutes ago is served by no test run of this checkout now. */
const EARLIER_BUILD_MS = 10 * 60_000;

/**
 * Removes the builds of earlier sources (one per change of them, else kept for ever) and the
 * half-made folders of builds killed mid-way, once `current` is in place; never a folder a running
 * process is building, nor a recent one (another run may serve it).
 */
async function removeEarlierBuilds(current: string): Promise<void> {
  for (const name of await readdir(RESULTS)) {
    const path = join(RESULTS, name);
    if (!name.startsWith('e2e-build-') || name.endsWith('.lock') || path === current) continue;
    const builder = /\.(\d+)$/.exec(name);
    if (builder && running(Number(builder[1]))) continue;
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (!builder && age < EARLIER_BUILD_MS) continue;
    await rm(path, { recursive: true, force: true });
  }
}

/** The production build (`productionBuild`) served by `vite preview`. */
export async function buildAndPreview(): Promise<{ url: string; outDir: string; server: PreviewServer; buildMs: number }> {
  const { outDir, buildMs } = await productionBuild();
  const port = await freePort();
  const server = await preview({ root: ROOT, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port, strictPort: true, open: false } });
  return { url: `http://localhost:${port}/`, outDir, server, buildMs };
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
  tasks: { wallMs: number; cpuMs: number; gcCpuMs: number }[];
  maxCpuMs: number;
  /** The longest task's CPU time less its garbage collections (V8's MajorGC/MinorGC within it): the page's own work. */
  maxScriptCpuMs: number;
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
  const collections = onMain.filter((e) => e.name === 'MajorGC' || e.name === 'MinorGC');
  const gcWithin = (t: TraceEvent) => {
    const end = t.ts + (t.dur ?? 0);
    return collections.filter((e) => e.ts >= t.ts && e.ts + (e.dur ?? 0) <= end).reduce((sum, e) => sum + (e.tdur ?? e.dur ?? 0), 0) / 1000;
  };
  const tasks = runTasks.map((e) => ({ wallMs: (e.dur ?? 0) / 1000, cpuMs: (e.tdur ?? e.dur ?? 0) / 1000, gcCpuMs: gcWithin(e) }));
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
    maxScriptCpuMs: Math.max(0, ...tasks.map((t) => t.cpuMs - t.gcCpuMs)),
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

export interface PageOptions {
  /** Playwright's default (1280 × 720) when not given. */
  viewport?: { width: number; height: number };
  acceptDownloads?: boolean;
}

/** A new page of `browser` and the uncaught errors of its scripts, which a test expects to stay empty. */
export async function openPage(browser: Browser, options: PageOptions = {}): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage(options);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { page, pageErrors };
}

export interface ChromiumUnderTest {
  browser: Browser;
  page: Page;
  pageErrors: string[];
}

export interface AppUnderTest extends ChromiumUnderTest {
  /** The production build's address, with its trailing slash. */
  url: string;
  /** The served build's folder. */
  outDir: string;
  server: PreviewServer;
  buildMs: number;
}

export interface AppOptions extends PageOptions {
  /** Chromium with WebGPU (SwiftShader here), or without (the app then falls back, or runs `?backend=cpu`). */
  webgpu: boolean;
  /** More Chromium flags (`NO_GL`: no WebGL either). */
  extraArgs?: string[];
}

/**
 * For a describe block: Chromium and a page, launched before its tests and closed after them. The
 * fields are filled in beforeAll; a test reads them when it runs (`const { page } = chromiumUnderTest`).
 */
export function useChromium({ webgpu, extraArgs, ...pageOptions }: AppOptions): ChromiumUnderTest {
  const held = {} as ChromiumUnderTest;
  beforeAll(async () => {
    requireChromium();
    held.browser = await launchChromium(webgpu, extraArgs);
    Object.assign(held, await openPage(held.browser, pageOptions));
  }, 120_000);
  afterAll(async () => {
    await held.browser?.close();
  });
  return held;
}

/**
 * For a describe block: the production build served by `vite preview`, Chromium and a page whose
 * errors are collected, ready before its tests (a later beforeAll of the block may add to the page
 * before its first visit) and closed after them. The fields are filled in beforeAll.
 */
export function useApp({ webgpu, extraArgs, ...pageOptions }: AppOptions): AppUnderTest {
  const app = {} as AppUnderTest;
  beforeAll(async () => {
    requireChromium();
    Object.assign(app, await buildAndPreview());
    app.browser = await launchChromium(webgpu, extraArgs);
    Object.assign(app, await openPage(app.browser, pageOptions));
  }, 240_000);
  afterAll(async () => {
    await app.browser?.close();
    await app.server?.close();
  });
  return app;
}

/** A setup chosen in the form: preset, batch size and number of built-in images. */
export interface FormSetup {
  preset: string;
  batch: number;
  size: number;
}

/** The setup the e2e tests train: a step takes well under a second on the CPU backend, seconds on SwiftShader. */
export const TINY: FormSetup = { preset: 'tiny', batch: 8, size: 1000 };

export interface OpenApp {
  /** `?backend=` in the address, and the backend to wait for; without it, whichever the app picks. */
  backend?: 'cpu' | 'webgpu' | 'webgl' | 'wasm';
  /** The rest of the query, e.g. `testHooks&autosave=8`. */
  query?: string;
  /** Chosen in the setup form once the backend is shown; the app rebuilds the model at once. */
  setup?: FormSetup;
  /** How long the backend may take to be shown. */
  timeoutMs?: number;
}

/** Waits until the page shows its backend (`backend`, when given). */
export async function backendShown(page: Page, backend?: string, timeoutMs = 120_000): Promise<void> {
  await page.locator(backend ? `[data-testid=backend][data-backend=${backend}]` : '[data-testid=backend][data-backend]').waitFor({ timeout: timeoutMs });
}

/** Picks `setup` in the form and waits for the rebuilt model's steps per epoch (125 for TINY). */
export async function chooseSetup(page: Page, setup: FormSetup = TINY): Promise<void> {
  await page.selectOption('[data-testid=preset]', setup.preset);
  await page.selectOption('[data-testid=batch]', String(setup.batch));
  await page.selectOption('[data-testid=dataset-size]', String(setup.size));
  await page.getByText(`${Math.floor(setup.size / setup.batch).toLocaleString('en')} steps per epoch`).waitFor({ timeout: 60_000 });
}

/** Opens the app at `url` with `backend` and `query`, waits for its backend, and chooses `setup` if given. */
export async function openApp(page: Page, url: string, { backend, query, setup, timeoutMs }: OpenApp = {}): Promise<void> {
  const params = [backend && `backend=${backend}`, query].filter(Boolean).join('&');
  await page.goto(params ? `${url}?${params}` : url);
  await backendShown(page, backend, timeoutMs);
  if (setup) await chooseSetup(page, setup);
}

/** Opens the app with its test hooks and waits for the Data panel's summary of the built-in dataset (shown once the first model is built). */
export async function openWithBuiltInData(page: Page, url: string): Promise<void> {
  await openApp(page, url, { query: 'testHooks' });
  await waitFor(page, 'the built-in summary', async () => (await page.locator('[data-testid=data-name]').count()) > 0, 120_000);
  expect(await text(page, 'data-name')).toBe('Built-in shapes');
}

/** The text of the first element with `testId`, trimmed. */
export async function text(page: Page, testId: string): Promise<string> {
  return ((await page.locator(`[data-testid=${testId}]`).first().textContent()) ?? '').trim();
}

/** Attribute `name` of the first element with `testId` ('' without it). */
export async function attr(page: Page, testId: string, name: string): Promise<string> {
  return (await page.locator(`[data-testid=${testId}]`).first().getAttribute(name)) ?? '';
}

/** The step the status line shows. */
export async function stepCount(page: Page): Promise<number> {
  return Number((await text(page, 'status-step')).replace(/,/g, ''));
}

/** The step of the run's last save. */
export async function savedStep(page: Page): Promise<number> {
  return Number(await attr(page, 'save-status', 'data-step'));
}

/** Clicks Step once it can be pressed and waits until the status line shows `step`. */
export async function stepTo(page: Page, step: number, timeoutMs = 60_000): Promise<void> {
  await page.locator('[data-testid=step]:not([disabled])').waitFor({ timeout: timeoutMs });
  await page.click('[data-testid=step]');
  await waitFor(page, `step ${step}`, async () => (await stepCount(page)) === step, timeoutMs);
}
