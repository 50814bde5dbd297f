/**
 * A lost GPU device, end to end: in Chromium with WebGPU (on SwiftShader here), a test hook
 * destroys the training Worker's device (`?testHooks`), as a driver reset would lose it; the page
 * says so, and *Continue on the CPU* goes on from the last state kept, on the CPU backend.
 */
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPreview, CHROMIUM, HAVE_CHROMIUM, launchChromium, waitFor } from './harness';

async function text(page: Page, testId: string): Promise<string> {
  return (await page.locator(`[data-testid=${testId}]`).first().textContent()) ?? '';
}

async function stepCount(page: Page): Promise<number> {
  return Number((await text(page, 'status-step')).replace(/,/g, ''));
}

async function stepTo(page: Page, step: number): Promise<void> {
  await page.locator('[data-testid=step]:not([disabled])').waitFor({ timeout: 120_000 });
  await page.click('[data-testid=step]');
  await waitFor(page, `step ${step}`, async () => (await stepCount(page)) === step, 120_000);
}

describe('a lost GPU device, end to end', () => {
  let served: { url: string; server: PreviewServer };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    served = await buildAndPreview('e2e-dist-gpu-loss');
    browser = await launchChromium(true);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await served?.server.close();
  });

  it('says the device was lost and continues on the CPU from the last state kept', async () => {
    await page.goto(`${served.url}?backend=webgpu&testHooks`);
    await page.locator('[data-testid=backend][data-backend=webgpu]').waitFor({ timeout: 120_000 });
    for (const s of [1, 2]) await stepTo(page, s);
    await waitFor(page, 'the save of step 2', async () => Number(await page.locator('[data-testid=save-status]').getAttribute('data-step')) === 2, 60_000);
    await page.evaluate(() => window.__moco!.bridge.api.training.destroyGpuDevice());
    await page.locator('[data-testid=gpu-lost]').waitFor({ timeout: 60_000 });
    expect(await text(page, 'gpu-lost-message')).toMatch(
      /^The GPU device was destroyed(: .*)?\. Training stopped at step 2\. Continue on the CPU from the last good state \(step 2\), or Restart the worker to try WebGPU again from the last save\.$/,
    );
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    await page.click('[data-testid=continue-on-cpu]');
    await page.locator('[data-testid=backend][data-backend=cpu]').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=fault-notice]').waitFor({ timeout: 60_000 });
    expect(await stepCount(page)).toBe(2);
    await stepTo(page, 3);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(last?.step).toBe(3);
    expect(Number.isFinite(last?.loss)).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 600_000);
});
