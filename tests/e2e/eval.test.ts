/**
 * The evaluation panel end to end in Chromium (WebGPU on SwiftShader here): two steps of the tiny
 * preset on 1,000 built-in images, then kNN now, a linear probe, the embedding view with the
 * neighbours of a clicked point, and the augmentation preview. Every number on the page comes from
 * the Worker's GPU computation; the checks are on what the page shows.
 *
 * Screenshots go to test-results/: app-evaluation.png (the panel), app-evaluation-full.png.
 */
import { resolve } from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNN_EVERY_SOFTWARE } from '../../src/worker/evaluationTypes';
import { chooseSetup, openApp, RESULTS, stepTo, text, useApp, waitFor } from './harness';

/** The percentage in a result line such as "12.3% at step 2". */
function firstPercent(line: string): number {
  const match = /([\d.]+)%/.exec(line);
  if (!match) throw new Error(`no percentage in "${line}"`);
  return Number(match[1]);
}

/** Pixels of a canvas that are drawn on (alpha > 0), and the CSS position of one of them, if any. */
async function paintedPixels(canvas: Locator): Promise<{ count: number; at: { x: number; y: number } | null }> {
  return canvas.evaluate((element) => {
    const c = element as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let count = 0;
    let at: { x: number; y: number } | null = null;
    const scale = c.width / c.clientWidth;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] === 0) continue;
      count++;
      // A fully opaque pixel is inside a point's disc, not on its anti-aliased rim.
      if (!at && data[i] > 200) {
        const p = (i - 3) / 4;
        at = { x: (p % c.width) / scale, y: Math.floor(p / c.width) / scale };
      }
    }
    return { count, at };
  });
}

describe('the evaluation panel, end to end', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 1000 } });
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    await openApp(app.page, app.url, { query: 'testHooks' });
    expect(await app.page.locator('[data-testid=backend]').getAttribute('data-backend')).toBe('webgpu');
  }, 240_000);

  afterAll(() => {
    console.log('evaluation e2e timings (ms)', JSON.stringify(timings));
  });

  it('takes two steps of the tiny preset on 1,000 built-in images', async () => {
    const { page } = app;
    await chooseSetup(page);
    // Software rendering: the monitor's default interval is the slow machine's.
    expect(Number(await page.locator('[data-testid=knn-every]').inputValue())).toBe(KNN_EVERY_SOFTWARE);
    const start = Date.now();
    for (let i = 1; i <= 2; i++) await stepTo(page, i, 300_000);
    timings.twoSteps = Date.now() - start;
  }, 660_000);

  it('runs kNN now: a point on the chart, a row, the accuracy and per-class accuracy', async () => {
    const { page } = app;
    const start = Date.now();
    await page.click('[data-testid=knn-run]');
    // 2,000 forward passes on SwiftShader: 105–146 s alone, 225 s beside the rest of the suite.
    await waitFor(page, 'the kNN result', async () => (await page.locator('[data-testid=knn-latest]').count()) > 0, 540_000);
    timings.knn = Date.now() - start;
    const line = await text(page, 'knn-latest');
    expect(line).toMatch(/^[\d.]+% at step 2 · 1,000 held-out images, bank 1,000, k 200 · [\d.]+ s$/);
    const accuracy = firstPercent(line);
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(100);
    expect(await page.locator('[data-testid=knn-chart]').getAttribute('data-points')).toBe('1');
    // recharts draws the one point as a dot.
    expect(await page.locator('[data-testid=knn-chart] .recharts-line-dot, [data-testid=knn-chart] .recharts-dot').count()).toBe(1);
    expect(await page.locator('[data-testid=knn-row]').count()).toBe(1);
    const perClass = await page.locator('[data-testid=knn-per-class] tbody tr').evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
    expect(perClass).toHaveLength(10);
    // 100 held-out images per class (the built-in test split cycles through the classes).
    for (const row of perClass) expect(row).toMatch(/^[a-z ]+\d+ \/ 100\d+%$/);
    const correct = await page.locator('[data-testid=knn-per-class] tbody td:nth-child(2)').evaluateAll((cells) => cells.map((c) => Number((c.textContent ?? '').split('/')[0])));
    // The per-class counts add up to the overall accuracy.
    expect(correct.reduce((a, b) => a + b, 0) / 10).toBeCloseTo(accuracy, 1);
  }, 600_000);

  it('trains a linear probe and shows its top-1', async () => {
    const { page } = app;
    await page.fill('[data-testid=probe-epochs]', '10');
    const start = Date.now();
    await page.click('[data-testid=probe-train]');
    await waitFor(page, 'the probe result', async () => (await page.locator('[data-testid=probe-result]').count()) > 0, 300_000);
    timings.probe = Date.now() - start;
    const line = await text(page, 'probe-result');
    expect(line).toMatch(/^top-1 [\d.]+% at step 2 · chance 10\.0% · 10 epochs on 1,000 × 8 features · [\d.]+ s$/);
    expect(firstPercent(line)).toBeLessThanOrEqual(100);
  }, 360_000);

  it('draws the embedding, and a click on a point shows its 8 nearest training images', async () => {
    const { page } = app;
    const start = Date.now();
    await page.click('[data-testid=embedding-refresh]');
    const scatter = page.locator('[data-testid=embedding-scatter]');
    await scatter.waitFor({ timeout: 120_000 });
    timings.embedding = Date.now() - start;
    expect(await scatter.getAttribute('data-points')).toBe('1000');
    const painted = await paintedPixels(scatter);
    // 1,000 discs of radius 4 px, overlapping: thousands of pixels, far from all of the canvas.
    expect(painted.count).toBeGreaterThan(1000);
    expect(painted.at).not.toBeNull();

    const clicked = Date.now();
    await scatter.click({ position: painted.at! });
    await waitFor(page, 'the neighbours', async () => (await page.locator('[data-testid=neighbour]').count()) === 8, 120_000);
    timings.neighbours = Date.now() - clicked;
    const similarities = (await page.locator('[data-testid=neighbour-similarity]').allTextContents()).map(Number);
    expect(similarities).toHaveLength(8);
    for (const s of similarities) {
      expect(s).toBeGreaterThanOrEqual(-1);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect([...similarities].sort((a, b) => b - a)).toEqual(similarities);
    // The thumbnails are drawn: every pixel of a 32 × 32 image is opaque.
    const thumbs = page.locator('[data-testid=neighbours] canvas');
    expect(await thumbs.count()).toBe(9);
    for (const alpha of await thumbs.evaluateAll((cs) => cs.map((c) => (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 32, 32).data[3]))) {
      expect(alpha).toBe(255);
    }
  }, 300_000);

  it('shows pairs of augmented views of the last batch', async () => {
    const { page, pageErrors } = app;
    const start = Date.now();
    await page.click('[data-testid=preview-refresh]');
    await waitFor(page, 'the view pairs', async () => (await page.locator('[data-testid=preview-pair]').count()) === 8, 120_000);
    timings.preview = Date.now() - start;
    // Two views per pair, drawn, and different from each other.
    const differing = await page.locator('[data-testid=preview-pair]').evaluateAll((pairs) =>
      pairs.map((pair) => {
        const [a, b] = Array.from(pair.querySelectorAll('canvas[data-testid=preview-view]')).map((c) => (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 32, 32).data);
        let n = 0;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
        return { n, opaque: a[3] === 255 && b[3] === 255 };
      }),
    );
    for (const d of differing) {
      expect(d.opaque).toBe(true);
      expect(d.n).toBeGreaterThan(100);
    }
    expect(await text(page, 'evaluation')).toContain('batch of step 2');
    await page.locator('[data-testid=evaluation]').screenshot({ path: resolve(RESULTS, 'app-evaluation.png') });
    await page.screenshot({ path: resolve(RESULTS, 'app-evaluation-full.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
