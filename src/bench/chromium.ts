import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { benchOptionsOf, checkIncludes, type BenchArgs } from './args';
import type { KernelCheck } from './kernelChecks';
import type { PageBench } from './page';
import type { BenchFile } from './report';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium with WebGPU (SwiftShader's Vulkan when there is no GPU) and WebGL (SwiftShader
 * through ANGLE, which Chromium only allows with --enable-unsafe-swiftshader).
 */
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--enable-unsafe-swiftshader',
];

/**
 * Builds bench.html with vite into a temporary folder, serves it on http://localhost (vite
 * preview), opens it in headless Chromium and hands `f` the page, whose `window.mocoBench` runs
 * the benchmark and the kernel checks.
 */
export async function withBenchPage<T>(f: (page: Page) => Promise<T>, log: (line: string) => void = () => {}): Promise<T> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`);
  const { build, preview } = await import('vite');
  const { chromium } = await import('playwright-core');
  const outDir = await mkdtemp(join(tmpdir(), 'moco-bench-'));
  const shared = { configFile: false as const, root: REPO_ROOT, logLevel: 'warn' as const };
  try {
    log('building bench.html');
    // Not minified: dispatch counts and profiles name tfjs's programs by their class names.
    await build({ ...shared, build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 8192, rolldownOptions: { input: join(REPO_ROOT, 'bench.html') } } });
    const server = await preview({ ...shared, build: { outDir }, preview: { host: 'localhost', port: 4180, strictPort: false } });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(0);
      page.on('console', (m) => log(m.text()));
      page.on('pageerror', (e) => log(`page error: ${e.message}`));
      const url = server.resolvedUrls?.local[0] ?? 'http://localhost:4180/';
      await page.goto(new URL('bench.html', url).href);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
      return await f(page);
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

type PageWindow = { mocoBench: PageBench };

/** The benchmark (or the kernel checks) in headless Chromium, results added to `file`. */
export async function runChromium(args: BenchArgs, file: BenchFile, log: (line: string) => void): Promise<void> {
  await withBenchPage(async (page) => {
    if (args.check) {
      const checks = await page.evaluate((includes) => (window as unknown as PageWindow).mocoBench.check({ trainingStepIncludes: includes }), checkIncludes(args));
      file.checks.push({ where: 'chromium', backend: 'webgpu', checks: checks as KernelCheck[] });
      if (!args.countOnly) return;
    }
    for (const backend of args.backends) {
      if (backend === 'cpu') continue;
      for (const preset of args.presets) {
        const options = benchOptionsOf(args, preset);
        try {
          const result = await page.evaluate(([b, o]) => (window as unknown as PageWindow).mocoBench.run(b, o), [backend, options] as const);
          file.runs.push({ where: 'chromium', result });
        } catch (e) {
          file.errors.push(`chromium ${backend} ${preset}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
  }, log);
}
