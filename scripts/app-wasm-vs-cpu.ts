/**
 * Issue #15, in the app: the training step's img/s on tfjs's WebAssembly backend (the fallback
 * without a GPU) against its JavaScript CPU backend, in Chromium without WebGPU. The built app (as
 * `vite preview` serves it, its Content-Security-Policy included) in two tabs, `?backend=wasm` and
 * `?backend=cpu`, the same setup in both; *Step* clicked in each in turn (one computes at a time,
 * under the same machine load), the Worker's own `stepMs` and img/s read from the page's series.
 * The first step of each is the warm-up; medians over the rest.
 *   npx tsx scripts/app-wasm-vs-cpu.ts PRESET BATCH STEPS OUT.jsonl   (e.g. resnet8 16 3 run.jsonl)
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Page } from 'playwright-core';
import { buildAndPreview, launchChromium, NO_GL, waitFor } from '../tests/e2e/harness';

const [preset = 'tiny', batchText = '16', stepsText = '3', out = 'app-wasm-vs-cpu.jsonl'] = process.argv.slice(2);
const batch = Number(batchText);
const steps = Number(stepsText);
const backends = ['wasm', 'cpu'] as const;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stepOf = async (page: Page) => Number(((await page.locator('[data-testid=status-step]').first().textContent()) ?? '').replace(/,/g, ''));
const log = (record: object) => {
  console.log(JSON.stringify(record));
  appendFileSync(out, `${JSON.stringify(record)}\n`);
};

writeFileSync(out, '');
const served = await buildAndPreview();
const browser = await launchChromium(false, NO_GL);
try {
  const pages = new Map<string, Page>();
  for (const backend of backends) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => console.error(`${backend} page error: ${e.message}`));
    await page.goto(`${served.url}?backend=${backend}&testHooks&preset=${preset}&batch=${batch}&data=shapes&n=2000&K=4096&seed=1`);
    await page.locator(`[data-testid=backend][data-backend=${backend}]`).waitFor({ timeout: 120_000 });
    const detail = (await page.locator('[data-testid=backend-detail]').count()) ? await page.locator('[data-testid=backend-detail]').textContent() : null;
    log({ event: 'ready', backend, detail, preset, batch, userAgent: await page.evaluate(() => navigator.userAgent), load: loadavg() });
    pages.set(backend, page);
  }
  const times = new Map<string, number[]>(backends.map((b) => [b, []]));
  for (let i = 0; i <= steps; i++) {
    for (const backend of backends) {
      const page = pages.get(backend)!;
      await page.locator('[data-testid=step]:not([disabled])').waitFor({ timeout: 600_000 });
      const started = Date.now();
      await page.click('[data-testid=step]');
      await waitFor(page, `step ${i + 1} on ${backend}`, async () => (await stepOf(page)) === i + 1, 900_000, 100);
      const wallMs = Date.now() - started;
      const last = (await page.evaluate(() => window.__moco!.store.last()))!;
      if (i > 0) times.get(backend)!.push(last.stepMs);
      log({ event: 'step', backend, preset, batch, step: i + 1, warmup: i === 0, stepMs: last.stepMs, imagesPerSecond: last.imagesPerSecond, wallMs, loss: last.loss, load: loadavg()[0] });
    }
  }
  const [wasm, cpu] = backends.map((b) => median(times.get(b)!));
  log({ event: 'summary', preset, batch, steps, wasmMedianMs: wasm, cpuMedianMs: cpu, wasmImgPerS: (batch * 1000) / wasm, cpuImgPerS: (batch * 1000) / cpu, wasmOverCpu: cpu / wasm, load: loadavg() });
} finally {
  await browser.close();
  await served.server.close();
}
