/**
 * The training charts end to end: an empty chart says what will appear, a K change is named on the
 * loss chart, the smoothing slider moves the smoothed line, the read-out follows the pointer, the
 * CSV download has a column per series and a row per step, and the page has a dark scheme and a
 * diagram readable at phone width. Chromium without WebGPU, on the CPU backend (`?backend=cpu`): a
 * tiny step takes well under a second there.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { EXPORT_FIELDS } from '../../src/ui/seriesExport';
import { openApp, openPage, RESULTS, startDevServer, stepTo, useApp, waitFor } from './harness';

const lossPath = (page: Page, field: string) => page.locator(`[data-testid=chart-loss] path[data-series=${field}]`).getAttribute('d');

describe('training charts, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 900 }, acceptDownloads: true });

  it('names a K change on the loss chart, smooths on demand, reads values under the pointer and exports every series as CSV', async () => {
    const { page, url, pageErrors } = app;
    await openApp(page, url, { backend: 'cpu', query: 'testHooks&preset=tiny&batch=8&data=shapes&n=1000&K=64&m=0.99' });
    // Before any step: each chart says what will appear and that Start begins it, with no axes.
    const empty = page.locator('[data-testid=chart-empty-loss]');
    expect(await empty.textContent()).toMatch(/loss of each step.*Press Start/);
    expect(await page.locator('[data-testid=chart-loss] [role=slider]').isVisible()).toBe(false);
    expect(await page.locator('[data-testid=export-csv]').isDisabled()).toBe(true);

    // Every choice of the setup's menus reads whole in the closed menu (a desktop's sidebar is 290 px wide).
    const cutOff = await page.evaluate(() => {
      const context = document.createElement('canvas').getContext('2d')!;
      const cut: string[] = [];
      for (const select of document.querySelectorAll<HTMLSelectElement>('[data-testid=preset], [data-testid=batch], [data-testid=version], [data-testid=dataset-size], [data-testid=budget]')) {
        const style = getComputedStyle(select);
        context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        // The box less its padding and Chromium's drop-down arrow (about 20 px).
        const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
        for (const option of select.options) if (context.measureText(option.text).width > room) cut.push(`${select.dataset.testid}: ${option.text}`);
      }
      return cut;
    });
    expect(cutOff).toEqual([]);

    // The primary button under the pointer keeps its colour under its white text.
    await page.hover('[data-testid=start]');
    const hovered = await page.locator('[data-testid=start]').evaluate((b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]);
    expect(hovered).toEqual(['rgb(124, 58, 237)', 'rgb(255, 255, 255)']);
    await page.mouse.move(0, 0);

    await stepTo(page, 1);
    await stepTo(page, 2);
    // Two live parameters set between two steps: one marker at step 3 names both.
    await page.focus('[data-testid=queue]');
    await page.keyboard.press('ArrowLeft');
    await page.focus('[data-testid=momentum]');
    await page.keyboard.press('Home');
    await page.waitForTimeout(500);
    await stepTo(page, 3);
    const marker = page.locator('[data-testid=chart-loss] text[data-marker]');
    await marker.first().waitFor({ timeout: 20_000 });
    const label = (await marker.first().textContent()) ?? '';
    expect(label).toMatch(/K 32/);
    expect(label).toMatch(/m 0\b/);
    // The label lies whole inside the chart (a marker at the right edge puts it left of its line: tests/ui/charts.test.ts).
    const labelBox = (await marker.first().boundingBox())!;
    const svgBox = (await page.locator('[data-testid=chart-loss] svg.recharts-surface').first().boundingBox())!;
    expect(labelBox.x).toBeGreaterThanOrEqual(svgBox.x);
    expect(labelBox.x + labelBox.width).toBeLessThanOrEqual(svgBox.x + svgBox.width);
    const fromStep = await page.evaluate(() => window.__moco!.store.markers.map((m) => m.fromStep));
    expect(fromStep).toEqual([3]);
    expect(await page.locator('[data-testid=chart-loss] [role=slider]').isVisible()).toBe(true);
    expect(await page.locator('[data-testid=chart-empty-loss]').count()).toBe(0);

    // Smoothing 0 draws the smoothed line through the raw values; 0.99 draws another line.
    const slider = page.locator('[data-testid=smoothing]');
    await slider.focus();
    await page.keyboard.press('Home');
    await waitFor(page, 'smoothing 0', async () => (await page.locator('[data-testid=smoothing-value]').textContent()) === '0.00', 10_000);
    await waitFor(page, 'the smoothed line on the raw one', async () => (await lossPath(page, 'lossSmoothed')) === (await lossPath(page, 'loss')), 10_000);
    await page.keyboard.press('End');
    await waitFor(page, 'smoothing 0.99', async () => (await page.locator('[data-testid=smoothing-value]').textContent()) === '0.99', 10_000);
    await waitFor(page, 'the smoothed line to leave the raw one', async () => (await lossPath(page, 'lossSmoothed')) !== (await lossPath(page, 'loss')), 10_000);
    const smoothed = await page.evaluate(() => Array.from(window.__moco!.store.columns.lossSmoothed.values()));
    const raw = await page.evaluate(() => Array.from(window.__moco!.store.columns.loss.values()));
    expect(smoothed[0]).toBeCloseTo(raw[0], 9);
    expect(smoothed[2]).not.toBeCloseTo(raw[2], 6);

    // The read-out: the last step by default, the step under the pointer, with every line's value.
    const readout = page.locator('[data-testid=readout-loss]');
    expect(await readout.getAttribute('data-step')).toBe('3');
    const plot = page.locator('[data-testid=chart-loss] [role=slider]');
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + 44 + 2, box.y + box.height / 2);
    await waitFor(page, 'the read-out at step 1', async () => (await readout.getAttribute('data-step')) === '1', 10_000);
    await page.locator('[data-testid=chart-loss]').screenshot({ path: resolve(RESULTS, 'charts-hover.png') });
    const read = (await readout.textContent()) ?? '';
    expect(read).toContain('step 1');
    expect(read).toMatch(/raw \d/);
    expect(read).toMatch(/smoothed \d/);
    expect(read).toMatch(/chance ln\(n\+1\) 0/);
    await page.mouse.move(0, 0);
    // The keyboard moves it too.
    await plot.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await waitFor(page, 'the read-out at step 3 by keyboard', async () => (await readout.getAttribute('data-step')) === '3', 10_000);
    expect(await readout.textContent()).toContain('set here: m 0, K 32');

    // Loss ÷ chance: the same chart, the loss over ln(n+1) with chance at 1.
    await page.selectOption('[data-testid=loss-view]', 'ratio');
    await page.locator('[data-testid=chart-loss][data-view=ratio] path[data-series=lossRatio]').waitFor({ timeout: 10_000 });
    await page.selectOption('[data-testid=loss-view]', 'loss');
    // Log scale: the loss on a log axis (the loss of 0 at step 1, an empty queue, is left out there).
    await page.check('[data-testid=loss-log]');
    await page.locator('[data-testid=chart-loss][data-scale=log] path[data-series=loss]').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=chart-loss]').screenshot({ path: resolve(RESULTS, 'charts-log.png') });
    await page.uncheck('[data-testid=loss-log]');

    // CSV: a column per series, a row per step, the store's numbers.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
    const file = resolve(RESULTS, 'charts.csv');
    await download.saveAs(file);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
    const header = lines[0].split(',');
    expect(header).toEqual(['step', ...EXPORT_FIELDS]);
    expect(lines.length).toBe(1 + 3);
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => Number(r[0]))).toEqual([1, 2, 3]);
    for (const r of rows) expect(r.length).toBe(header.length);
    expect(rows.map((r) => Number(r[header.indexOf('loss')]))).toEqual(raw);
    expect(rows.map((r) => Number(r[header.indexOf('queueCapacity')]))).toEqual([64, 64, 32]);
    expect(rows.map((r) => Number(r[header.indexOf('momentum')]))).toEqual([0.99, 0.99, 0]);
    await page.screenshot({ path: resolve(RESULTS, 'charts-light.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('has a dark scheme, and the diagram keeps readable text on a 390 px screen', async () => {
    const { page, pageErrors } = app;
    await page.emulateMedia({ colorScheme: 'dark' });
    const background = await page.evaluate(() => getComputedStyle(document.body.parentElement!).backgroundColor);
    expect(background).toBe('rgb(11, 17, 32)');
    const card = await page.locator('[data-testid=chart-loss]').evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(card).toBe('rgb(17, 24, 39)');
    await page.screenshot({ path: resolve(RESULTS, 'charts-dark.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const text = await page.evaluate(() => {
      const svg = document.querySelector('[data-testid=method-diagram] > svg')!;
      const scale = svg.getBoundingClientRect().width / 940;
      return Math.min(...Array.from(svg.querySelectorAll('text'), (t) => parseFloat(getComputedStyle(t).fontSize) * scale));
    });
    expect(text).toBeGreaterThanOrEqual(8);
    // The diagram scrolls sideways inside its card; the page itself does not get wider for it.
    const figure = page.locator('[data-testid=method-diagram]');
    expect(await figure.evaluate((f) => f.scrollWidth > f.clientWidth && f.clientWidth <= 390)).toBe(true);
    await page.screenshot({ path: resolve(RESULTS, 'charts-phone-dark.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('draws six other runs on the loss, accuracy, similarity and kNN charts, each in its colour, named in the legend and the read-out', async () => {
    // A page of the charts alone (tests/e2e/pages/overlays.tsx), served by Vite's dev server.
    const dev = await startDevServer();
    try {
      const { page: p, pageErrors: errors } = await openPage(app.browser, { viewport: { width: 1280, height: 900 } });
      await p.goto(`${dev.url}tests/e2e/pages/overlays.html`);
      await p.locator('[data-testid=chart-loss] path[data-series=loss]').waitFor({ timeout: 120_000 });
      const momenta = ['0', '0.9', '0.99', '0.999', '0.9999', '0.5'];
      const colours = new Set<string>();
      for (const chart of ['loss', 'accuracy', 'similarity']) {
        const paths = p.locator(`[data-testid=chart-${chart}] path[data-overlay]`);
        expect(await paths.count()).toBe(chart === 'similarity' ? 12 : 6);
        for (const stroke of await paths.evaluateAll((ps) => ps.map((e) => getComputedStyle(e).stroke))) colours.add(stroke);
        const legend = (await p.locator(`[data-testid=chart-${chart}] figcaption`).textContent()) ?? '';
        for (const m of momenta) expect(legend).toContain(`m = ${m}`);
      }
      expect(colours.size).toBe(6);
      for (const path of await p.locator('[data-testid=chart-loss] path[data-overlay]').evaluateAll((ps) => ps.map((e) => e.getAttribute('data-points')))) expect(Number(path)).toBe(200);
      // The read-out under the pointer names every run with its value at that step.
      const plot = p.locator('[data-testid=chart-loss] [role=slider]');
      const box = (await plot.boundingBox())!;
      await p.mouse.move(box.x + 44 + (box.width - 60) / 2, box.y + box.height / 2);
      const readout = p.locator('[data-testid=readout-loss]');
      await waitFor(p, 'the read-out under the pointer', async () => (await readout.getAttribute('data-step')) !== '200', 10_000);
      const text = (await readout.textContent()) ?? '';
      for (const m of momenta) expect(text).toMatch(new RegExp(`m = ${m.replace('.', '\\.')} \\d\\.\\d+`));
      expect(await p.locator('[data-testid=chart-loss] circle').count()).toBe(3 + 6);
      await p.screenshot({ path: resolve(RESULTS, 'charts-overlays.png'), fullPage: true });
      // kNN: a line per run, each run named in the legend and the read-out.
      const knn = (await p.locator('[data-testid=knn-readout]').textContent()) ?? '';
      expect(knn).toContain('this run 45.0%');
      expect(knn).toContain('m = 0 40.0%');
      expect(await p.locator('[data-testid=knn-chart] .recharts-line').count()).toBe(7);
      expect(errors).toEqual([]);
      await p.close();
    } finally {
      await dev.server.close();
    }
  }, 240_000);
});
