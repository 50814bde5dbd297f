/**
 * Faults in the app, end to end: a run whose learning rate makes it NaN stops, says why and which
 * slider to change, refuses to export the broken weights and restores the last good state; a
 * training Worker that ends unseen (a test hook terminates it, as a crash would) is noticed by the
 * heartbeat, and *Restart* goes on from the last save; one that throws an uncaught error (a test hook)
 * is noticed at once, the call in flight settles, and *Restart* trains on; a blown-up loss is warned
 * while training goes on; the Data panel shows the loader's warnings.
 * Chromium without WebGPU, on the CPU backend (`?backend=cpu`), where a tiny step is fast.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { openApp, savedStep, stepCount, stepTo, text, TINY, useApp, waitFor } from './harness';

/** The learning rate through the Worker's API (the slider stops at 1): what a user's 1e30 would do. */
async function setLearningRate(page: Page, learningRate: number): Promise<void> {
  await page.evaluate((lr) => window.__moco!.bridge.api.training.setParams({ learningRate: lr }), learningRate);
}

describe('faults, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 800 } });
  beforeAll(() => openApp(app.page, app.url, { backend: 'cpu', query: 'testHooks', setup: TINY, timeoutMs: 60_000 }), 240_000);

  it('a learning rate of 1e30: training stops with the reason, the download is refused, restore brings back a finite state', async () => {
    const { page } = app;
    for (const s of [1, 2]) await stepTo(page, s);
    await setLearningRate(page, 1e30);
    await page.click('[data-testid=start]');
    await page.locator('[data-testid=diverged]').waitFor({ timeout: 60_000 });
    const message = await text(page, 'diverged-message');
    expect(message).toMatch(/^Training stopped: the loss (became NaN|became Infinity|is [\d.e+]+) at step \d+ with learning rate 1\.00e\+30 and temperature 0\.2: the learning rate is likely too high — lower the Learning rate slider \(the default here is 9\.37e-4\)\. Restore the last good state \(step 2\) to go on from there\.$/);
    const badStep = await stepCount(page);
    expect(badStep).toBeGreaterThan(2);
    expect(await text(page, 'run-state')).toBe('Error');
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    // The broken weights cannot be downloaded; the reason is said.
    await page.click('[data-testid=download]');
    await page.locator('[data-testid=error]').waitFor({ timeout: 30_000 });
    expect(await text(page, 'error')).toMatch(/^the weights hold [\d,]+ NaN or infinite values of [\d,]+ \(training went wrong\): restore the last good state or Reset, then download them$/);
    // The last save is still the good one.
    expect(await savedStep(page)).toBe(2);

    await setLearningRate(page, 0.000938);
    expect(await text(page, 'restore-good-state')).toBe('Restore last good state (step 2)');
    await page.click('[data-testid=restore-good-state]');
    await waitFor(page, 'the restored step 2', async () => (await stepCount(page)) === 2 && (await page.locator('[data-testid=diverged]').count()) === 0, 60_000);
    expect(await text(page, 'fault-notice')).toMatch(/^Restored the last good state \(step 2\)/);
    await stepTo(page, 3);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(last?.step).toBe(3);
    expect(Number.isFinite(last?.loss)).toBe(true);
    expect(last!.contrastiveAccuracy).toBeGreaterThanOrEqual(0);
    await waitFor(page, 'the save of step 3', async () => (await savedStep(page)) === 3, 60_000);
  }, 300_000);

  it('a Worker that ends is noticed by the heartbeat; Restart goes on from the last save', async () => {
    const { page } = app;
    await stepTo(page, 4);
    await waitFor(page, 'the save of step 4', async () => (await savedStep(page)) === 4, 60_000);
    await page.evaluate(() => window.__moco!.killWorker());
    await page.locator('[data-testid=worker-lost]').waitFor({ timeout: 40_000 });
    expect(await text(page, 'worker-lost')).toMatch(
      /^The training worker stopped answering \(no reply for 10 s\) at step 4: it may be stuck in a long computation, or gone \(if it answers again, this goes away\)\. Restart ends it and starts a new worker that goes on from the last save at step 4 \(0 steps since then are lost\)\.Restart$/,
    );
    // Reset is free (it starts a new Worker too); Start waits for Restart.
    expect(await page.locator('[data-testid=reset]').isDisabled()).toBe(false);
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    await page.click('[data-testid=restart-worker]');
    await page.locator('[data-testid=fault-notice]').waitFor({ timeout: 60_000 });
    expect(await text(page, 'fault-notice')).toMatch(/^Restarted: the run goes on from its last save at step 4; 0 steps since then were lost\./);
    expect(await stepCount(page)).toBe(4);
    await stepTo(page, 5);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(Number.isFinite(last?.loss)).toBe(true);
  }, 300_000);

  it('an uncaught error in the Worker: noticed at once, the call in flight settles, the status leaves Training, Restart trains on', async () => {
    const { page } = app;
    await waitFor(page, 'the save of step 5', async () => (await savedStep(page)) === 5, 60_000);
    await page.click('[data-testid=start]');
    await waitFor(page, 'Training', async () => (await text(page, 'run-state')) === 'Training', 60_000);
    // The hook's own call never answers: the page must settle it once the Worker throws.
    const settled = await page.evaluate(() =>
      window.__moco!.bridge.api.training.crashWorker().then(
        () => 'answered',
        (e: Error) => e.message,
      ),
    );
    expect(settled).toMatch(/^the training worker failed: .*crashWorker: an uncaught error in the training worker \(test hook\)$/);
    await page.locator('[data-testid=worker-lost]').waitFor({ timeout: 10_000 });
    const notice = await text(page, 'worker-lost');
    const m = /^The training worker crashed \(the training worker failed: .*\) at step (\d+)\. Restart starts a new worker that goes on from the last save at step (\d+) \((\d+) steps? since then (?:is|are) lost\)\.Restart$/.exec(notice);
    expect(m, notice).not.toBeNull();
    const [crashedAt, saved, lost] = m!.slice(1).map(Number);
    expect(saved).toBeGreaterThanOrEqual(5);
    expect(lost).toBe(crashedAt - saved);
    expect(await text(page, 'run-state')).not.toBe('Training');
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    // A call after the crash settles at once too.
    expect(await page.evaluate(() => window.__moco!.bridge.api.training.ping().then(() => 'answered', (e: Error) => e.message))).toMatch(/^the training worker crashed/);

    await page.click('[data-testid=restart-worker]');
    await page.locator('[data-testid=fault-notice]').waitFor({ timeout: 60_000 });
    expect(await text(page, 'fault-notice')).toMatch(new RegExp(`^Restarted: the run goes on from its last save at step ${saved}; ${lost === 1 ? '1 step' : `${lost} steps`} since then (was|were) lost\\.`));
    expect(await stepCount(page)).toBe(saved);
    await stepTo(page, saved + 1);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(last?.step).toBe(saved + 1);
    expect(Number.isFinite(last?.loss)).toBe(true);
  }, 300_000);

  it('a blown-up loss (a temperature of 1e-4): a warning under the status, training goes on; it ends once the loss is back down, and × hides it', async () => {
    const { page } = app;
    let step = await stepCount(page);
    const warned = () => page.locator('[data-testid=loss-warning]').count();
    const temperature = (t: number) => page.evaluate((value) => window.__moco!.bridge.api.training.setParams({ temperature: value }), t);
    const stepUntilWarned = async () => {
      for (let i = 0; i < 10 && (await warned()) === 0; i++) await stepTo(page, ++step);
      await page.locator('[data-testid=loss-warning]').waitFor({ timeout: 10_000 });
    };
    await temperature(1e-4);
    await stepUntilWarned();
    expect(await text(page, 'loss-warning-message')).toMatch(
      /^The loss is [\d.e+]+ at step \d+ with learning rate \S+ and temperature 1\.00e-4, far above ln\(K\+1\) = [\d.]+ \(a guess among \d+ keys\): the temperature is too small \(the logits are similarities divided by it\) — raise the Temperature T slider \(MoCo uses 0\.07 to 0\.2\)\. Training goes on; this warning ends by itself at the first step whose loss is back below [\d.]+ \(3 × ln\(K\+1\)\)\./,
    );
    // Nothing stopped: no error, no restore to offer, Start free.
    expect(await text(page, 'run-state')).toBe('Paused');
    expect(await page.locator('[data-testid=diverged]').count()).toBe(0);
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(false);
    // The temperature back to 0.2 (a loss of at most ln(K+1) + 10, below 3 × ln 4097): the next step ends the warning.
    await temperature(0.2);
    await stepTo(page, ++step);
    await waitFor(page, 'the warning ended', async () => (await warned()) === 0, 10_000);
    // Blown up again: warned again; × hides it.
    await temperature(1e-4);
    await stepUntilWarned();
    await page.click('[data-testid=dismiss-loss-warning]');
    await waitFor(page, 'the warning hidden', async () => (await warned()) === 0, 10_000);
    await temperature(0.2);
    await stepTo(page, ++step);
  }, 300_000);

  it('the Data panel shows what the loader warns about: a folder with one class', async () => {
    const { page, pageErrors } = app;
    const dir = join(mkdtempSync(join(tmpdir(), 'moco-e2e-')), 'cats-only');
    mkdirSync(join(dir, 'cats'), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const data = Buffer.alloc(32 * 32 * 4, 200);
      writeFileSync(join(dir, 'cats', `${i}.png`), PNG.sync.write({ width: 32, height: 32, data } as PNG));
    }
    await page.setInputFiles('[data-testid=data-folder]', dir);
    await page.locator('[data-testid=data-warnings]').waitFor({ timeout: 60_000 });
    expect(await text(page, 'data-warnings')).toBe('⚠ cats-only: one class only (cats): MoCo trains without labels, but kNN and probe accuracy need two classes or more');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
