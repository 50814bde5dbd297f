/**
 * Runs side by side and experiments, end to end: two saved runs with different m, listed with
 * their parameters, the one not in use ticked onto the charts with its legend; an experiment of
 * two values that completes with its table and its runs on the charts, the user's run back at its
 * step; an experiment cancelled.
 * Chromium without WebGPU, on the CPU backend (`?backend=cpu`), as the saved-runs test: a tiny step
 * takes well under a second there.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { openApp, stepCount, stepTo, text, useApp, waitFor } from './harness';

const TINY_QUERY = 'preset=tiny&method=v2&batch=8&data=shapes&n=1000&seed=1&K=64';

/** Opens the app with the tiny setup at momentum `m`, a fresh run (a saved run's offer declined). */
async function open(page: Page, url: string, m: number): Promise<void> {
  await openApp(page, url, { backend: 'cpu', query: `${TINY_QUERY}&m=${m}` });
  await page.getByText('125 steps per epoch').waitFor({ timeout: 60_000 });
  const offer = page.getByRole('button', { name: 'New run' });
  if (await offer.count()) await offer.click();
}

describe('runs side by side and experiments, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 800 } });

  it('lists two saved runs with different m told apart by m and K, and draws the other run beside the run in use, named by its m', async () => {
    const { page, url, pageErrors } = app;
    await open(page, url, 0.9);
    for (const s of [1, 2]) await stepTo(page, s);
    await waitFor(page, 'the first run saved', async () => (await page.locator('[data-testid=saved-run]').count()) === 1, 60_000);
    await open(page, url, 0.99);
    for (const s of [1, 2]) await stepTo(page, s);
    await waitFor(page, 'both runs saved', async () => (await page.locator('[data-testid=saved-run]').count()) === 2, 60_000);
    // Newest first: the run in use (m = 0.99), then the first one; the same setup, told apart by m.
    expect(await page.locator('[data-testid=saved-run-params]').allInnerTexts()).toEqual(['m 0.99 · K 64', 'm 0.9 · K 64']);

    // The run in use's own save cannot be ticked (drawn, it would hide under the live lines): it says so.
    expect(await text(page, 'saved-run-current')).toBe('this run');
    const box = page.locator('[data-testid=saved-run-show]');
    expect(await box.count()).toBe(1);
    await box.check();
    const legend = page.locator('[data-testid=chart-loss] figcaption li[data-overlay]');
    await waitFor(page, 'the other run in the loss chart legend', async () => (await legend.count()) === 1, 30_000);
    expect(await legend.allTextContents()).toEqual(['m = 0.9']);
    for (const chart of ['loss', 'accuracy', 'similarity']) {
      // The overlaid lines are named in the legend by their run, and drawn as paths under the same key.
      const named = await page.locator(`[data-testid=chart-${chart}] figcaption li[data-overlay]`).evaluateAll((items) => items.map((li) => [li.getAttribute('data-overlay') ?? '', li.textContent ?? ''] as const));
      const keys = named.filter(([, name]) => /^m = 0\.9( |$)/.test(name)).map(([key]) => key);
      expect(keys.length).toBe(chart === 'similarity' ? 2 : 1);
      for (const key of keys) expect(await page.locator(`[data-testid=chart-${chart}] path[data-overlay="${key}"]`).getAttribute('data-points')).toBe('2');
    }
    expect(await text(page, 'compare-legend')).toBe('The charts compare this run (m = 0.99) with ● m = 0.9.');

    // Unticked, the run leaves the charts.
    await box.uncheck();
    await waitFor(page, 'no run in the legend', async () => (await legend.count()) === 0, 30_000);
    expect(pageErrors).toEqual([]);
  }, 400_000);

  it('lists the saved runs readably: at 1280 px ten columns, every header and value on one line; at 1024 px and on a phone (390 px) one card per run', async () => {
    const { page } = app;
    /** Per header and labelled value, how many lines its text takes; and whether the table fits its panel. */
    const layout = () =>
      page.locator('[data-testid=saved-runs]').evaluate((table) => {
        // The lines its text takes: the distinct tops of its text's boxes.
        const lines = (el: Element) => {
          const tops = new Set<number>();
          const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(node);
            for (const box of range.getClientRects()) if (box.width > 0) tops.add(Math.round(box.top));
          }
          return tops.size;
        };
        const labelled = [...table.querySelectorAll('tbody td[data-label]')].filter((td) => td.getAttribute('data-label') !== 'Charts');
        return {
          fits: table.getBoundingClientRect().right <= table.parentElement!.getBoundingClientRect().right + 0.5,
          // The actions' header is for screen readers only (a 1-pixel box).
          headers: [...table.querySelectorAll('thead th')].filter((th) => !th.querySelector('.visually-hidden')).map((th) => `${th.textContent}: ${lines(th)}`),
          // A long setup or list of parameters may break between its parts (preset, method, batch; m, K), never inside one.
          values: labelled.flatMap((td) => (['Setup', 'Parameters'].includes(td.getAttribute('data-label')!) ? [...td.children] : [td]).map((el) => `${td.getAttribute('data-label')}: ${lines(el)}`)),
          headerShown: table.querySelector('thead')!.getBoundingClientRect().height > 1,
        };
      });
    const oneLine = (texts: string[]) => texts.map((t) => t.replace(/\d+$/, '1'));
    const wide = await layout();
    expect(wide.headerShown).toBe(true);
    expect(wide.headers).toHaveLength(9);
    expect(wide.headers).toEqual(oneLine(wide.headers));
    // Two runs: Saved, Steps, Dataset, three parts of Setup, two of Parameters (m, K), kNN, Size.
    expect(wide.values).toHaveLength(2 * 10);
    expect(wide.values).toEqual(oneLine(wide.values));
    expect(wide.fits).toBe(true);
    // A dataset name too long for its column ends in an ellipsis; the whole name is its cell's title.
    expect(await page.locator('[data-testid=saved-run] td[data-label=Dataset]').first().getAttribute('title')).toBe('Built-in shapes (train)');
    try {
      for (const width of [1024, 390]) {
        await page.setViewportSize({ width, height: 800 });
        const narrow = await layout();
        expect(narrow.headerShown).toBe(false);
        expect(narrow.values).toHaveLength(2 * 10);
        expect(narrow.values, `at ${width} px`).toEqual(oneLine(narrow.values));
        expect(narrow.fits, `at ${width} px`).toBe(true);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  }, 60_000);

  it('runs an experiment of two values to its table, draws its runs, and gives the run in use back at its step', async () => {
    const { page, pageErrors } = app;
    expect(await stepCount(page)).toBe(2);
    await page.selectOption('[data-testid=experiment-param]', 'momentum');
    await page.fill('[data-testid=experiment-values]', '0, 0.99');
    await page.fill('[data-testid=experiment-steps]', '2');
    // Two steps are too few for m to act: the panel says why, and how many it takes.
    expect(await text(page, 'experiment-too-short')).toMatch(/^With 2 steps per run the loss and accuracy of the runs cannot differ: m acts through the key encoder, .* Give at least 3 steps\.$/);
    await page.click('[data-testid=experiment-run]');
    await page.locator('[data-testid=experiment-progress]').waitFor({ timeout: 30_000 });
    // The controls wait for the experiment.
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    await page.locator('[data-testid=experiment-status]').waitFor({ timeout: 240_000 });
    expect(await text(page, 'experiment-status')).toMatch(/^Finished: 2 runs of 2 steps\. Your run is back at step 2\./);
    const rows = await page.locator('[data-testid=experiment-row]').allInnerTexts();
    expect(rows).toHaveLength(2);
    // run, steps, loss, loss ÷ ln(n+1), contrastive acc., kNN, key lag, key cos, time.
    expect(rows[0]).toMatch(/^m = 0\t2\t\d+\.\d+\t[01]\.?\d*\t\d+\.\d%\t\d+\.\d%\t0\t1\t[\d.]+ s/);
    expect(rows[1]).toMatch(/^m = 0\.99\t2\t/);
    // As the panel said: the same final loss, loss over chance and contrastive accuracy for both m;
    // but the key encoder of m = 0.99 trails the query encoder from the step the latter first learns (2).
    expect(rows[1].split('\t').slice(1, 5)).toEqual(rows[0].split('\t').slice(1, 5));
    expect(Number(rows[1].split('\t')[6])).toBeGreaterThan(0);
    // Two steps at chance: the loss over ln(n + 1) reads about 1.
    expect(Math.abs(Number(rows[0].split('\t')[3]) - 1)).toBeLessThan(0.1);
    expect(await text(page, 'experiment-note')).toMatch(/^m acts on the key encoder at once: .* Here 2 steps of batch 8 are 0\.016 epochs of 1,000 images and the learning rate is 0\.03 × 8\/256 = 0\.000937 /);
    expect(await text(page, 'experiment-paper')).toMatch(/0\.999\s*59\.0%.*ImageNet/s);
    const legend = page.locator('[data-testid=chart-loss] figcaption li[data-overlay]');
    await waitFor(page, 'the experiment runs on the charts', async () => (await legend.count()) === 2, 30_000);
    expect(await legend.allTextContents()).toEqual(['m = 0', 'm = 0.99']);
    expect(await page.locator('[data-testid=evaluation] li[data-overlay]').count()).toBe(2);
    expect(await stepCount(page)).toBe(2);
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(false);
    // The experiment's runs are not saved runs.
    expect(await page.locator('[data-testid=saved-run]').count()).toBe(2);
    // On a phone (390 px) every value of the table stays on one line ("m = 0.99", "2.32 s" are not
    // broken in two), and the table scrolls sideways inside its panel, not the page.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const phone = await page.locator('[data-testid=experiment-table]').evaluate((table) => {
        const lines = (el: Element) => {
          const tops = new Set<number>();
          const range = document.createRange();
          range.selectNodeContents(el);
          for (const box of range.getClientRects()) if (box.width > 0) tops.add(Math.round(box.top));
          return tops.size;
        };
        return {
          cells: [...table.querySelectorAll('tbody th, tbody td')].filter((c) => c.textContent).map((c) => `${c.textContent}: ${lines(c)}`),
          fits:
            table.closest('[data-testid=experiment-table-scroll]')!.getBoundingClientRect().right <= table.closest('[data-testid=experiments]')!.getBoundingClientRect().right + 0.5 &&
            document.documentElement.scrollWidth <= window.innerWidth,
          // The paper's figures under the results, from the same left edge (no figure indent) and inside the panel.
          paper: (() => {
            const paper = document.querySelector('[data-testid=experiment-paper]')!.getBoundingClientRect();
            const panel = table.closest('[data-testid=experiments]')!.getBoundingClientRect();
            return { indent: Math.round(paper.left - table.getBoundingClientRect().left), below: paper.top >= table.getBoundingClientRect().bottom, fits: paper.right <= panel.right + 0.5 };
          })(),
        };
      });
      expect(phone.cells).toHaveLength(2 * 9);
      expect(phone.cells).toEqual(phone.cells.map((c) => c.replace(/\d+$/, '1')));
      expect(phone.fits).toBe(true);
      expect(phone.paper).toEqual({ indent: 0, below: true, fits: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    expect(pageErrors).toEqual([]);
  }, 400_000);

  it('cancels an experiment within a step, keeping the run it had started', async () => {
    const { page, pageErrors } = app;
    await page.click('[data-testid=experiment-preset-queueSize]');
    await page.fill('[data-testid=experiment-values]', '16, 32');
    await page.fill('[data-testid=experiment-steps]', '300');
    // 300 steps are plenty for K = 16 and 32 (they differ from step 4): no warning.
    expect(await page.locator('[data-testid=experiment-too-short]').count()).toBe(0);
    await page.click('[data-testid=experiment-run]');
    await waitFor(page, 'the first run training', async () => /Run 1 of 2 \(K = 16\): step [1-9]/.test(await text(page, 'experiment-progress')), 120_000);
    expect(await text(page, 'experiment-progress')).toMatch(/left$/);
    // The status line is the experiment's (never its inner run's Ready, Paused or Finished), and the live parameters wait with Start.
    expect(await text(page, 'run-state')).toBe('Experiment, run 1 of 2');
    expect(await page.locator('[data-testid=momentum]').isDisabled()).toBe(true);
    await page.click('[data-testid=experiment-cancel]');
    await page.locator('[data-testid=experiment-status]').waitFor({ timeout: 120_000 });
    expect(await text(page, 'experiment-status')).toMatch(/^Cancelled after 1 of 2 runs\. Your run is back at step 2\./);
    const rows = await page.locator('[data-testid=experiment-row]').allInnerTexts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^K = 16\t\d+\t/);
    expect(Number(rows[0].split('\t')[1])).toBeLessThan(300);
    expect(await stepCount(page)).toBe(2);
    expect(pageErrors).toEqual([]);
  }, 400_000);
});
