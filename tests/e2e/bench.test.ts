/**
 * "Benchmark my GPU" end to end in Chromium (WebGPU and WebGL both on SwiftShader here): with the
 * tiny preset training, a click pauses it, a Worker of its own times the MoCo step on WebGPU with
 * our kernels and stock ones, then on WebGL, the table and the recommendation appear, the Worker
 * ends, and training resumes. SwiftShader is a software device, so the panel times the small
 * default (tiny, batch 8, 1 warm-up + 2 timed steps) whatever the setup. Then, with training
 * paused, a second run is cancelled: the Worker ends and training stays paused.
 *
 * Screenshot: test-results/app-benchmark.png (the panel).
 */
import { resolve } from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseSetup, openApp, RESULTS, stepCount, text, useApp, waitFor } from './harness';

interface Row {
  backend: string;
  kernels: string;
  imagesPerSecond: number;
  dispatches: number | null;
  cells: string[];
}

async function rows(page: Page): Promise<Row[]> {
  return page.locator('[data-testid=bench-row]').evaluateAll((trs) =>
    trs.map((tr) => {
      const d = (tr as HTMLElement).dataset;
      return {
        backend: d.backend ?? '',
        kernels: d.kernels ?? '',
        imagesPerSecond: Number(d.imagesPerSecond),
        dispatches: d.dispatches ? Number(d.dispatches) : null,
        cells: Array.from(tr.children, (c) => (c.textContent ?? '').trim()),
      };
    }),
  );
}

describe('Benchmark my GPU, end to end', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 1000 } });
  const workers: { url: string; closed: boolean }[] = [];

  beforeAll(async () => {
    app.page.on('worker', (w: Worker) => {
      const entry = { url: w.url(), closed: false };
      workers.push(entry);
      w.on('close', () => (entry.closed = true));
    });
    await openApp(app.page, app.url, { query: 'testHooks' });
    expect(await app.page.locator('[data-testid=backend]').getAttribute('data-backend')).toBe('webgpu');
  }, 240_000);

  it('pauses training, times WebGPU (ours, stock) and WebGL in its own Worker, resumes training', async () => {
    const { page, pageErrors } = app;
    await chooseSetup(page);
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.click('[data-testid=start]');
    await waitFor(page, 'a training step', async () => (await stepCount(page)) >= 1, 300_000);
    expect(await text(page, 'run-state')).toBe('Training');

    const clicked = Date.now();
    await page.click('[data-testid=bench-start]');
    await waitFor(page, 'the benchmark to start', async () => (await page.locator('[data-testid=bench-progress][data-phase=running]').count()) === 1, 300_000);
    expect(await text(page, 'bench-training-note')).toBe('Training is paused while the benchmark runs; it resumes when it ends.');
    expect(await text(page, 'run-state')).toBe('Paused');
    const stepAtPause = await stepCount(page);
    expect(await page.locator('[data-testid=bench-start]').isDisabled()).toBe(true);
    await waitFor(page, 'a progress line', async () => (await text(page, 'bench-log')).length > 0, 120_000);
    expect(workers.filter((w) => /gpuBenchmark\.worker/.test(w.url) && !w.closed)).toHaveLength(1);

    await page.locator('[data-testid=bench-result]').waitFor({ timeout: 600_000 });
    const benchMs = Date.now() - clicked;
    // Training stayed paused throughout the benchmark.
    expect(await stepCount(page)).toBe(stepAtPause);

    const table = await rows(page);
    console.log('benchmark rows', JSON.stringify(table), `${benchMs} ms`);
    expect(table.map((r) => `${r.backend}/${r.kernels}`)).toEqual(['webgpu/ours', 'webgpu/stock', 'webgl/stock']);
    for (const r of table) expect(r.imagesPerSecond).toBeGreaterThan(0);
    const [ours, stock, webgl] = table;
    // Our kernels fuse what stock tfjs runs as separate programs: docs/PERFORMANCE.md counts 184 against 896 for the tiny step.
    expect(ours.dispatches).toBeGreaterThan(0);
    expect(stock.dispatches).toBeGreaterThan(ours.dispatches!);
    // Cells: backend (and device), kernels, img/s, step ms (host part), dispatches, GPU ms, ours vs stock, of fastest.
    expect(ours.cells[0]).toMatch(/^WebGPU.*swiftshader/i);
    // The host part (recording and submitting) ends before the step does: SwiftShader computes after it.
    for (const r of table) expect(r.cells[3], r.backend).toMatch(/^[\d,]+ \(host [\d,]+\)$/);
    const [stepMs, hostMs] = ours.cells[3].match(/[\d,]+/g)!.map((x) => Number(x.replace(/,/g, '')));
    expect(hostMs).toBeLessThan(stepMs);
    expect(ours.cells[4]).toBe(ours.dispatches!.toLocaleString('en'));
    expect(ours.cells[6]).toMatch(/^[\d.]+× img\/s · [\d.]+× fewer dispatches/);
    expect(webgl.dispatches).toBeNull();
    expect(webgl.cells[4]).toBe('n/a');
    expect(await text(page, 'bench-notes')).toContain('dispatch counts are for WebGPU only');
    expect(await page.locator('[data-testid=bench-row][data-fastest]').count()).toBe(1);
    expect(await page.locator('[data-testid=bench-failure]').count()).toBe(0);

    const line = await text(page, 'bench-recommendation');
    const best = [...table].sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
    const bestLabel = best.backend === 'webgl' ? 'WebGL' : best.kernels === 'ours' ? 'WebGPU with our kernels' : 'WebGPU with stock tfjs kernels';
    expect(line.startsWith(`${bestLabel} is `)).toBe(true);
    expect(line).toMatch(/ as fast as .* here; our WebGPU kernels are [\d.]+× as fast as stock tfjs's/);
    expect(await text(page, 'bench-result')).toContain('tiny at batch 8');

    // The benchmark's Worker is gone (its GPU device with it); training runs again.
    await waitFor(page, 'the benchmark worker to end', async () => workers.some((w) => /gpuBenchmark\.worker/.test(w.url)) && workers.every((w) => !/gpuBenchmark\.worker/.test(w.url) || w.closed), 30_000);
    await waitFor(page, 'training to resume', async () => (await text(page, 'run-state')) === 'Training', 60_000);
    await waitFor(page, 'a step after the benchmark', async () => (await stepCount(page)) > stepAtPause, 300_000);
    expect(await page.locator('[data-testid=bench-start]').isDisabled()).toBe(false);
    await page.click('[data-testid=pause]');

    await page.locator('[data-testid=bench-panel]').screenshot({ path: resolve(RESULTS, 'app-benchmark.png') });
    expect(pageErrors).toEqual([]);
  }, 900_000);

  it('with training paused, leaves it paused; Cancel ends the Worker at once', async () => {
    const { page, pageErrors } = app;
    await waitFor(page, 'the paused state', async () => (await text(page, 'run-state')) === 'Paused', 300_000);
    const step = await stepCount(page);
    const before = workers.length;
    await page.click('[data-testid=bench-start]');
    await waitFor(page, 'a progress line', async () => (await page.locator('[data-testid=bench-log]').count()) === 1, 120_000);
    expect(await text(page, 'bench-training-note')).toBe('Training is not running; it stays paused until you start it.');
    const bench = workers.slice(before).filter((w) => /gpuBenchmark\.worker/.test(w.url));
    expect(bench).toHaveLength(1);
    const cancelled = Date.now();
    await page.click('[data-testid=bench-cancel]');
    // The page lets go at once; the Worker thread itself ends once a synchronous GPU call in flight
    // returns (seconds on SwiftShader, longer while other processes load the CPU).
    await waitFor(page, 'the cancelled state', async () => (await page.locator('[data-testid=bench-error]').count()) === 1, 10_000);
    const uiMs = Date.now() - cancelled;
    expect(await text(page, 'bench-error')).toBe('Cancelled.');
    expect(await page.locator('[data-testid=bench-result]').count()).toBe(0);
    expect(await page.locator('[data-testid=bench-progress]').count()).toBe(0);
    await waitFor(page, 'the cancelled worker to end', async () => bench[0].closed, 180_000);
    console.log('cancel', JSON.stringify({ uiMs, workerEndedMs: Date.now() - cancelled }));
    await page.waitForTimeout(3_000);
    expect(await text(page, 'run-state')).toBe('Paused');
    expect(await stepCount(page)).toBe(step);
    expect(await page.locator('[data-testid=bench-start]').isDisabled()).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 480_000);
});
