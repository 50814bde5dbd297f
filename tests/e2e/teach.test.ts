/**
 * What the app teaches, end to end in Chromium on the CPU backend (`?backend=cpu`, so that a tiny
 * step and a kNN run take seconds, not minutes as on SwiftShader): the first-visit explainer, the
 * key encoder's lag on the diagram (0 one step after m is set to 0), kNN progress that moves while
 * the votes are scored, and the narrow-screen order.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attr, backendShown, chooseSetup, RESULTS, stepTo, text, useApp, waitFor } from './harness';

describe('what the app teaches, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 900 } });

  it('shows the explainer on the first visit; dismissed, it stays dismissed after a reload', async () => {
    const { page, url } = app;
    // Not openApp: the explainer and the run state are read before the backend is up.
    await page.goto(`${url}?backend=cpu`);
    await page.locator('[data-testid=explainer]').waitFor({ timeout: 30_000 });
    expect(await text(page, 'explainer')).toContain('falls below it');
    // Never "Ready" while Start cannot be pressed.
    const state = await text(page, 'run-state');
    if (state === 'Ready') expect(await page.locator('[data-testid=start]').isDisabled()).toBe(false);
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    expect(await text(page, 'run-state')).toBe('Ready');
    // A glossary term: a keyboard stop whose explanation is its accessible description.
    const term = page.locator('[data-testid=term-weightedKnn]');
    await term.focus();
    const described = await term.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? '');
    expect(described).toMatch(/200 nearest training images/);
    expect(await page.locator(`[id="${await term.getAttribute('aria-describedby')}"]`).isVisible()).toBe(true);

    // From the keyboard: the button pressed goes away, and focus moves to what replaces it.
    await page.focus('[data-testid=explainer-dismiss]');
    await page.keyboard.press('Enter');
    expect(await page.locator('[data-testid=explainer]').count()).toBe(0);
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.textContent ?? '');
    expect(await focused()).toBe('explainer-open');
    await page.keyboard.press('Enter');
    expect(await focused()).toBe('What you are watching');
    await page.click('[data-testid=explainer-dismiss]');
    expect(await focused()).toBe('explainer-open');
    await page.reload();
    await page.locator('[data-testid=explainer-open]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid=explainer]').count()).toBe(0);
    await backendShown(page, 'cpu', 60_000);
  }, 120_000);

  it('shows the key encoder lag after a few steps, and 0 one step after m is set to 0', async () => {
    const { page } = app;
    await chooseSetup(page);
    for (let i = 1; i <= 3; i++) await stepTo(page, i);
    const lag = Number(await attr(page, 'diagram-lag', 'data-value'));
    expect(lag).toBeGreaterThan(0);
    expect(await text(page, 'diagram-lag')).toMatch(/lag [\d.e-]+ · key cos [\d.]+/);
    // No word of the diagram is crossed by an arrow (the augment and enqueue labels were, read on a projector as struck out).
    const crossed = await page.locator('[data-testid=diagram-lag]').evaluate((lagText) => {
      const svg = (lagText as SVGTextElement).ownerSVGElement!;
      const curves = [...svg.querySelectorAll('path')].filter((p) => !p.closest('marker') && getComputedStyle(p).fill === 'none');
      const hits: string[] = [];
      for (const t of svg.querySelectorAll('text')) {
        const b = t.getBBox();
        if (!t.textContent?.trim() || b.width === 0) continue;
        const crosses = (p: SVGPathElement) => {
          for (let at = 0; at <= p.getTotalLength(); at += 1) {
            const q = p.getPointAtLength(at);
            if (q.x > b.x && q.x < b.x + b.width && q.y > b.y && q.y < b.y + b.height) return true;
          }
          return false;
        };
        for (const p of curves) if (crosses(p)) hits.push(`"${t.textContent.trim()}" × ${p.getAttribute('d')}`);
      }
      return hits;
    });
    expect(crossed).toEqual([]);
    // The chart draws a batch after the status line has counted it.
    await waitFor(page, 'three points on the key-encoder chart', async () => Number(await attr(page, 'chart-key-encoder', 'data-points')) === 3, 10_000);

    await page.focus('[data-testid=momentum]');
    await page.keyboard.press('Home');
    await waitFor(page, 'the worker to report m = 0', async () => (await attr(page, 'diagram-momentum', 'data-value')) === '0', 30_000);
    await stepTo(page, 4);
    await waitFor(page, 'the lag of step 4', async () => (await attr(page, 'diagram-lag', 'data-value')) === '0', 10_000);
  }, 240_000);

  it('advances the kNN progress while the votes are scored (two readings differ)', async () => {
    const { page } = app;
    // Every reading of the progress line, as the page draws it.
    await page.evaluate(() => {
      const readings: string[] = [];
      (window as unknown as { __readings: string[] }).__readings = readings;
      const record = () => {
        const p = document.querySelector('[data-testid=eval-progress]');
        if (p) readings.push(`${p.getAttribute('data-phase')}:${p.getAttribute('data-done')}:${p.textContent}`);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });
    // Four steps in, with no kNN yet: not the advice for an untrained network.
    expect(await text(page, 'knn-empty')).toMatch(/^No result for this run yet\. Run now for its accuracy at step 4/);
    await page.click('[data-testid=knn-run]');
    await page.locator('[data-testid=knn-latest]').waitFor({ timeout: 300_000 });
    const readings = await page.evaluate(() => (window as unknown as { __readings: string[] }).__readings);
    const scoring = [...new Set(readings.filter((r) => r.startsWith('3:')).map((r) => Number(r.split(':')[1])))];
    expect(scoring.length).toBeGreaterThanOrEqual(2);
    expect(scoring).toEqual([...scoring].sort((a, b) => a - b));
    expect(readings.some((r) => r.includes('1 of 3: features of the training set'))).toBe(true);
    expect(readings.some((r) => /left|almost done/.test(r))).toBe(true);
    expect(await text(page, 'eval-software')).toContain('the CPU backend');
  }, 360_000);

  it('shows a point under the pointer, picks one from the keyboard, and labels the neighbours and views', async () => {
    const { page } = app;
    await page.click('[data-testid=embedding-refresh]');
    const scatter = page.locator('[data-testid=embedding-scatter]');
    await scatter.waitFor({ timeout: 120_000 });
    // The keyboard: a point by its number, Enter for its neighbours.
    const point = page.locator('[data-testid=embedding-point]');
    // A number out of range is refused with the valid range, not moved to the nearest end.
    await point.fill('5000');
    expect(await text(page, 'embedding-point-error')).toMatch(/^there is no held-out image 5000: type a whole number from 0 to \d+$/);
    expect(await point.inputValue()).toBe('5000');
    expect(await page.locator('[data-testid=embedding-select]').isDisabled()).toBe(true);
    await point.fill('0');
    // The error's live region stays, empty, so that the next error is read.
    expect(await text(page, 'embedding-point-error')).toBe('');
    expect(await point.getAttribute('aria-invalid')).toBe('false');
    await point.focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await point.inputValue()).toBe('2');
    expect(await text(page, 'embedding-hover')).toMatch(/^#2\s*\S+/);
    await page.keyboard.press('Enter');
    await waitFor(page, 'the neighbours', async () => (await page.locator('[data-testid=neighbour]').count()) === 8, 120_000);
    const summary = await text(page, 'neighbours-same');
    const n = Number(/same class: (\d) \/ 8/.exec(summary)![1]);
    // The summary counts the neighbours drawn with the same-class border.
    const labels = await page.locator('[data-testid=neighbour] canvas').evaluateAll((cs) => cs.map((c) => c.getAttribute('aria-label') ?? ''));
    const queryClass = /: (.+)$/.exec((await page.locator('[data-testid=neighbours] figure canvas').getAttribute('aria-label')) ?? '')![1];
    expect(labels.filter((l) => l.includes(`: ${queryClass},`)).length).toBe(n);

    // The plot itself from the keyboard: Shift+Tab from the number lands on it, with a focus ring,
    // on the chosen point (#2), its card shown and its class in the slider's value text.
    await page.keyboard.press('Shift+Tab');
    expect(await scatter.evaluate((c) => c === document.activeElement)).toBe(true);
    expect(await scatter.evaluate((c) => getComputedStyle(c).outlineStyle)).not.toBe('none');
    const card = page.locator('[data-testid=embedding-hover]');
    const cardAt = async () => ({ index: Number(await card.getAttribute('data-index')), x: Number(await card.getAttribute('data-x')), y: Number(await card.getAttribute('data-y')) });
    const start = await cardAt();
    expect(start.index).toBe(2);
    const className = (await text(page, 'embedding-hover')).replace(/^#2\s*/, '').trim();
    expect(await scatter.getAttribute('aria-valuetext')).toBe(`held-out image 2 of 1000: ${className}`);
    // → and ↓ go to a point on that side (or on the same spot, next by number), the card and the value text with it.
    await page.keyboard.press('ArrowRight');
    const right = await cardAt();
    expect(right.index).not.toBe(2);
    expect(right.x).toBeGreaterThanOrEqual(start.x);
    expect(await scatter.getAttribute('aria-valuetext')).toMatch(new RegExp(`^held-out image ${right.index} of 1000: \\S`));
    expect(await text(page, 'embedding-hover')).toMatch(new RegExp(`^#${right.index}\\s*\\S+`));
    await page.keyboard.press('ArrowDown');
    const down = await cardAt();
    expect(down.y).toBeGreaterThanOrEqual(right.y);
    expect(await card.locator('canvas').count()).toBe(1);
    // Enter asks for that point's neighbours.
    await page.keyboard.press('Enter');
    const query = new RegExp(`held-out #${down.index}(?!\\d)`);
    const caption = page.locator('[data-testid=neighbours] figcaption').first();
    await waitFor(page, `the neighbours of #${down.index}`, async () => query.test((await caption.textContent()) ?? '') && (await page.locator('[data-testid=neighbour]').count()) === 8, 120_000);
    // The pointer over the scatter: the image and class of the point under it.
    await scatter.blur();
    // A fully opaque pixel is inside a point's disc.
    const at = await scatter.evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      const scale = canvas.width / canvas.clientWidth;
      for (let i = 3; i < data.length; i += 4) {
        if (data[i] > 250) {
          const p = (i - 3) / 4;
          return { x: (p % canvas.width) / scale, y: Math.floor(p / canvas.width) / scale };
        }
      }
      return null;
    });
    expect(at).not.toBeNull();
    await scatter.hover({ position: at! });
    const hovered = await waitFor(page, 'the hover card', async () => (await page.locator('[data-testid=embedding-hover]').count()) > 0, 5_000);
    expect(hovered).toBe(true);
    expect(await page.locator('[data-testid=embedding-hover] canvas').count()).toBe(1);

    await page.click('[data-testid=preview-refresh]');
    await page.locator('[data-testid=preview-pair]').first().waitFor({ timeout: 60_000 });
    const captions = await page.locator('[data-testid=preview-pair]').first().locator('figcaption').allTextContents();
    expect(captions).toEqual(['query q', 'key k₊']);
    const width = await page.locator('[data-testid=preview-view]').first().evaluate((c) => c.getBoundingClientRect().width);
    expect(width).toBeGreaterThanOrEqual(64);
  }, 300_000);

  it('puts the status and the diagram before the controls on a narrow screen', async () => {
    const { page, pageErrors } = app;
    await page.setViewportSize({ width: 390, height: 844 });
    const top = async (selector: string) => (await page.locator(selector).first().boundingBox())!.y;
    const status = await top('[aria-label="Training status"]');
    const diagram = await top('[data-testid=diagram-momentum]');
    const controls = await top('[aria-label="Training controls"]');
    expect(status).toBeLessThan(controls);
    expect(diagram).toBeLessThan(controls);
    // The explainer was dismissed above: the button that brings it back stays at the top with them.
    expect(await top('[data-testid=explainer-open]')).toBeLessThan(status);
    // Nothing wider than the screen, the saved runs' table included: each run a card, nothing cut.
    await page.locator('[data-testid=saved-run]').first().waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const table = await page.locator('[data-testid=saved-runs]').evaluate((t) => ({ scroll: t.scrollWidth, width: t.clientWidth, container: t.parentElement!.clientWidth }));
    expect(table.scroll).toBeLessThanOrEqual(table.container);
    expect(table.width).toBeLessThanOrEqual(table.container);
    // Every value and action of a run is on the screen, whole.
    const row = page.locator('[data-testid=saved-run]').first();
    const boxes = await row.locator('td, button, input, textarea').evaluateAll((els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return { left: r.left, right: r.right, w: r.width, scroll: e.scrollWidth, client: e.clientWidth, tag: e.tagName };
      }),
    );
    expect(boxes.length).toBeGreaterThanOrEqual(10);
    for (const box of boxes) {
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.right).toBeLessThanOrEqual(390);
      expect(box.w).toBeGreaterThan(0);
      if (box.tag === 'TD') expect(box.scroll).toBeLessThanOrEqual(box.client);
    }
    // A long name wraps in its field, which grows to show it whole.
    const name = row.locator('[data-testid=saved-run-name]');
    await name.fill('momentum 0.99 against 0.9 on the CIFAR-10 sample, the first try of the class');
    const field = await name.evaluate((e) => ({ scrollH: e.scrollHeight, clientH: e.clientHeight, scrollW: e.scrollWidth, clientW: e.clientWidth, right: e.getBoundingClientRect().right }));
    expect(field.clientH).toBeGreaterThan(30);
    expect(field.scrollH).toBeLessThanOrEqual(field.clientH + 1);
    expect(field.scrollW).toBeLessThanOrEqual(field.clientW);
    expect(field.right).toBeLessThanOrEqual(390);
    await name.press('Escape');
    expect(await row.getByRole('button', { name: /^Resume the run saved at step/ }).isVisible()).toBe(true);
    expect(await row.getByRole('button', { name: /^Delete the run saved at step/ }).isVisible()).toBe(true);
    await page.locator('[aria-label="Saved runs"]').screenshot({ path: resolve(RESULTS, 'app-saved-runs-390.png') });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
