/**
 * The app with the keyboard alone and as a screen reader hears it: the first visit's explainer
 * dismissed and focus where it went, the live sliders' values with their symbols, training started
 * and paused with Enter, a kNN run, the embedding's points by arrow keys and their neighbours, and
 * a two-value experiment, whose buttons keep the focus that pressed them (a disabled button used to drop it to the page's start), live regions that say each
 * stage once instead of every step's or batch's count, and a focus ring that shows in the dark
 * scheme too. Chromium without WebGPU, on the CPU backend: a tiny step takes well under a second.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chooseSetup, openApp, stepCount, TINY, useApp, waitFor } from './harness';

/** The testid of the focused element, or its tag where it has none ('BODY': the focus was dropped). */
const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? 'none');

/** Starts recording every text change of the page's live regions (what a screen reader would say). */
async function listenToLiveRegions(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __said: string[] };
    w.__said = [];
    const region = (n: Node) => (n.nodeType === 1 ? (n as Element) : n.parentElement)?.closest('[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log], output:not([aria-live=off])');
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        const r = region(m.target);
        if (r) w.__said.push(`${r.getAttribute('data-testid') ?? r.tagName}: ${r.textContent ?? ''}`);
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

/** What the live regions said since the last call, each different text once, in order. */
const said = async (page: Page) => [...new Set(await page.evaluate(() => (window as unknown as { __said: string[] }).__said.splice(0)))];

/** WCAG's contrast ratio of two `rgb(…)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const s = Number(v) / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('the app by keyboard and screen reader', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 1000 } });

  it('dismisses the explainer, says slider values with their symbols, trains, runs kNN, walks the embedding and runs an experiment with the focus kept and no flood of announcements', async () => {
    const { page, url, pageErrors } = app;
    await openApp(page, url, { backend: 'cpu' });

    // First visit: the first Tab stop skips the controls' twenty stops to the main panel, whose first
    // stop is Got it; Enter closes the explainer and the focus goes to the button that brings it back.
    await page.keyboard.press('Tab');
    expect(await focusedTestId(page)).toBe('skip-to-main');
    expect(await page.getByRole('link', { name: 'Skip to the main panel' }).isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    expect(await focusedTestId(page)).toBe('explainer-dismiss');
    await page.keyboard.press('Enter');
    expect(await focusedTestId(page)).toBe('explainer-open');
    await chooseSetup(page, TINY);

    // A glossary term shows its explanation on focus; Escape hides it and leaves the focus where it was.
    const term = page.locator('[data-testid=term-momentum]').first();
    await term.focus();
    const tooltip = page.locator('[data-testid=term-momentum] + [role=tooltip]').first();
    expect(await tooltip.isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    expect(await tooltip.isVisible()).toBe(false);
    expect(await focusedTestId(page)).toBe('term-momentum');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    expect(await tooltip.isVisible()).toBe(true);

    // The sliders say what the paper writes, not a bare number; their visible value is no second live region.
    const momentum = page.locator('[data-testid=momentum]');
    expect(await momentum.getAttribute('aria-valuetext')).toBe('m = 0.99');
    expect(await page.locator('[data-testid=queue]').getAttribute('aria-valuetext')).toBe('K = 4,096 keys');
    expect(await page.locator('[data-testid=momentum-value]').getAttribute('aria-live')).toBe('off');
    await momentum.focus();
    // Page Down: a tenth of the slider, a tenth of a decade of 1 − m.
    await page.keyboard.press('PageDown');
    expect(await momentum.getAttribute('aria-valuetext')).toBe('m = 0.9749');
    await page.keyboard.press('PageUp');
    expect(await momentum.getAttribute('aria-valuetext')).toBe('m = 0.99');

    // Start and pause with Enter: the state is said, not each step's figures.
    await listenToLiveRegions(page);
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.focus('[data-testid=start]');
    await page.keyboard.press('Enter');
    await waitFor(page, 'three steps', async () => (await stepCount(page)) >= 3, 60_000);
    expect(await focusedTestId(page)).toBe('pause');
    // Named by their words: the symbols before them are not read ("black right-pointing triangle Start").
    expect(await page.getByRole('button', { name: 'Pause', exact: true }).count()).toBe(1);
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=run-state]', { hasText: 'Paused' }).waitFor({ timeout: 30_000 });
    expect(await focusedTestId(page)).toBe('start');
    expect(await page.getByRole('button', { name: 'Resume', exact: true }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Reset', exact: true }).count()).toBe(1);
    const training = await said(page);
    expect(training).toContain('run-state: Training');
    expect(training.filter((s) => /\d/.test(s.split(': ')[1] ?? ''))).toEqual([]);

    // A chart is one Tab stop over the steps: the arrow keys move it, and its read-out is said whole.
    await page.locator('[data-testid=chart-loss] [role=slider]').focus();
    await page.keyboard.press('ArrowLeft');
    const readout = page.locator('[data-testid=readout-loss]');
    expect(await readout.getAttribute('aria-live')).toBe('polite');
    expect(await readout.getAttribute('aria-atomic')).toBe('true');
    expect(await readout.textContent()).toMatch(/^step \d+chance ln\(n\+1\) [\d.]+raw [\d.]+smoothed [\d.]+/);
    await page.keyboard.press('Escape');
    await said(page);

    expect(await page.getByRole('spinbutton', { name: 'Run kNN every how many steps (0: off)' }).count()).toBe(1);
    // Run now keeps the focus while kNN runs and after; its progress is said by phase, without the image counts.
    await page.focus('[data-testid=knn-run]');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=eval-progress]').waitFor({ timeout: 60_000 });
    expect(await focusedTestId(page)).toBe('knn-run');
    expect(await page.locator('[data-testid=eval-progress]').getAttribute('role')).toBeNull();
    await page.locator('[data-testid=knn-latest]').waitFor({ timeout: 180_000 });
    expect(await focusedTestId(page)).toBe('knn-run');
    const knn = (await said(page)).filter((s) => s.startsWith('eval-announcement: ') && s.length > 'eval-announcement: '.length);
    expect(knn[0]).toMatch(/^eval-announcement: kNN at step \d+, 1 of \d: /);
    expect(knn.filter((s) => s.includes(' / ') || s.includes(' left'))).toEqual([]);

    // The embedding by keyboard: Show embedding keeps the focus, Tab reaches the plot, the arrows move
    // from point to point (said as the slider's value), Enter shows the point's neighbours.
    await page.focus('[data-testid=embedding-refresh]');
    await page.keyboard.press('Enter');
    const scatter = page.locator('[data-testid=embedding-scatter]');
    await scatter.waitFor({ timeout: 180_000 });
    expect(await focusedTestId(page)).toBe('embedding-refresh');
    await page.keyboard.press('Tab');
    expect(await focusedTestId(page)).toBe('embedding-scatter');
    const first = await scatter.getAttribute('aria-valuetext');
    expect(first).toMatch(/^held-out image \d+ of 1000: \w/);
    await page.keyboard.press('ArrowRight');
    const moved = await scatter.getAttribute('aria-valuetext');
    expect(moved).toMatch(/^held-out image \d+ of 1000: \w/);
    expect(moved).not.toBe(first);
    await page.keyboard.press('Enter');
    await waitFor(page, 'the neighbours', async () => (await page.locator('[data-testid=neighbour]').count()) === 8, 120_000);
    // The error's live region is in the page before the error, so that a screen reader reads it when it comes.
    const pointError = page.locator('[data-testid=embedding-point-error][role=status]');
    expect(await pointError.count()).toBe(1);
    expect(await pointError.textContent()).toBe('');
    await page.locator('[data-testid=embedding-point]').fill('5000');
    expect(await pointError.textContent()).toMatch(/^there is no held-out image 5000: type a whole number from 0 to 999$/);
    // So is the copied link's note.
    expect(await page.locator('[data-testid=copy-link-note][role=status]').count()).toBe(1);
    await said(page);

    // A two-value experiment from the keyboard: the button keeps the focus as it turns into Cancel and back,
    // and each run is said once, not each of its steps.
    const values = page.locator('[data-testid=experiment-values]');
    await values.focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('0, x');
    // Refused values: the field says it is invalid and why, and so does the Run button.
    expect(await values.getAttribute('aria-invalid')).toBe('true');
    const problem = await page.locator('[data-testid=experiment-problem]').textContent();
    expect(problem).toBe("'x' is not a number");
    const description = (id: string | null) => page.evaluate((i) => (i ? document.getElementById(i)?.textContent : null) ?? null, id);
    expect(await description(await values.getAttribute('aria-describedby'))).toBe(problem);
    expect(await description(await page.locator('[data-testid=experiment-run]').getAttribute('aria-describedby'))).toBe(problem);
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('0, 0.9');
    expect(await values.getAttribute('aria-invalid')).toBe('false');
    await page.focus('[data-testid=experiment-steps]');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('3');
    if (await page.locator('[data-testid=experiment-knn]').isChecked()) {
      await page.focus('[data-testid=experiment-knn]');
      await page.keyboard.press('Space');
    }
    await page.focus('[data-testid=experiment-run]');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=experiment-progress]').waitFor({ timeout: 60_000 });
    expect(await focusedTestId(page)).toBe('experiment-cancel');
    await page.locator('[data-testid=experiment-status]').waitFor({ timeout: 180_000 });
    expect(await focusedTestId(page)).toBe('experiment-run');
    const experiment = await said(page);
    expect(experiment).toEqual(expect.arrayContaining(['experiment-announcement: Run 1 of 2 (m = 0): training', 'experiment-announcement: Run 2 of 2 (m = 0.9): training']));
    expect(experiment.filter((s) => /step \d+ of/.test(s))).toEqual([]);

    // The focus ring shows in the dark scheme too, at 3:1 or more against what it is drawn on.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.focus('[data-testid=knn-run]');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      let behind: Element | null = el.parentElement;
      while (behind && getComputedStyle(behind).backgroundColor.replace(/\s/g, '').match(/rgba\(.*,0\)$|transparent/)) behind = behind.parentElement;
      const style = getComputedStyle(el);
      return { id: el.dataset.testid, visible: el.matches(':focus-visible'), outline: style.outlineStyle, width: parseFloat(style.outlineWidth), colour: style.outlineColor, behind: getComputedStyle(behind ?? document.body).backgroundColor };
    });
    expect(ring).toMatchObject({ id: 'knn-run', visible: true, outline: 'solid' });
    expect(ring.width).toBeGreaterThanOrEqual(2);
    expect(contrast(ring.colour, ring.behind)).toBeGreaterThanOrEqual(3);
    expect(pageErrors).toEqual([]);
  }, 480_000);
});
