/**
 * A lost GPU device, end to end: in Chromium with WebGPU (on SwiftShader here), a test hook
 * destroys the training Worker's device (`?testHooks`) while it trains, as a driver reset would
 * lose it. With no user action the Worker starts WebGPU again on a new device (SwiftShader keeps
 * its adapter), restores the last state kept and trains on; the page says what happened.
 */
import { describe, expect, it } from 'vitest';
import { openApp, savedStep, stepCount, stepTo, text, useApp, waitFor } from './harness';

describe('a lost GPU device, end to end', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 800 } });

  it('recovers by itself: WebGPU again on a new device, from the last state kept, training on with no user action', async () => {
    const { page, url, pageErrors } = app;
    await openApp(page, url, { backend: 'webgpu', query: 'testHooks' });
    for (const s of [1, 2]) await stepTo(page, s, 120_000);
    await waitFor(page, 'the save of step 2', async () => (await savedStep(page)) === 2, 60_000);
    await page.click('[data-testid=start]');
    await waitFor(page, 'Training', async () => (await text(page, 'run-state')) === 'Training', 60_000);
    // The device goes while a step runs; from here on the test only watches.
    await page.evaluate(() => window.__moco!.bridge.api.training.destroyGpuDevice());
    await page.locator('[data-testid=gpu-recovered]').waitFor({ timeout: 240_000 });
    const message = await text(page, 'gpu-recovered-message');
    console.log(`gpu-recovered: ${message}`);
    const m = /^The GPU device was destroyed(?:: [^]*)? at step (\d+)\. Training resumed on WebGPU again, on a new device, from step (\d+), the last state kept: (\d+) steps? (?:was|were) lost\.$/.exec(message);
    expect(m, message).not.toBeNull();
    const [lostAt, from, lost] = m!.slice(1).map(Number);
    expect(lostAt).toBeGreaterThanOrEqual(2);
    // The save of step 2 (or a later autosave) is the last state kept.
    expect(from).toBeGreaterThanOrEqual(2);
    expect(from).toBeLessThanOrEqual(lostAt);
    expect(lost).toBe(lostAt - from);
    expect(await page.locator('[data-testid=backend]').getAttribute('data-backend')).toBe('webgpu');
    expect(await page.locator('[data-testid=gpu-lost]').count()).toBe(0);
    // Training went on by itself, past the step where the device was lost, with finite losses.
    await waitFor(page, `a step after ${lostAt}`, async () => (await stepCount(page)) > lostAt && (await text(page, 'run-state')) === 'Training', 240_000);
    await page.click('[data-testid=pause]');
    await waitFor(page, 'Paused', async () => (await text(page, 'run-state')) === 'Paused', 120_000);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(last!.step).toBeGreaterThan(lostAt);
    expect(Number.isFinite(last!.loss)).toBe(true);
    expect(await page.locator('[data-testid=backend]').getAttribute('data-backend')).toBe('webgpu');
    expect(pageErrors).toEqual([]);
  }, 600_000);
});
