/**
 * The step time around an automatic save, measured in the app: Chromium on WebGPU (SwiftShader
 * here), the tiny preset, a save every 8 s (`?autosave=8`) instead of 30 s so that a short run has
 * several. Writes every step's wall time and every save to test-results/save-stall-chromium.jsonl
 * (docs/runs/ keeps one) and prints the comparison; fails if a save holds training for more than a
 * quarter of a step.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { openApp, RESULTS, TINY, useApp, waitFor } from './harness';

const TRAIN_MS = 75_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function saveSeen(page: Page): Promise<{ step: number; blockedMs: number; writeMs: number } | null> {
  const el = page.locator('[data-testid=save-status]');
  const [step, blocked, write] = await Promise.all(['data-step', 'data-blocked-ms', 'data-write-ms'].map((a) => el.getAttribute(a)));
  return blocked === null || write === null ? null : { step: Number(step), blockedMs: Number(blocked), writeMs: Number(write) };
}

describe('step time around an automatic save, in Chromium', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 900 } });

  it('the steps next to a save take as long as the others', async () => {
    const { page, url } = app;
    await openApp(page, url, { query: 'testHooks&autosave=8', setup: TINY });
    const backend = await page.locator('[data-testid=backend]').getAttribute('data-backend');
    // No kNN monitor: its runs hold training too, and would blur what a save costs.
    await page.fill('[data-testid=knn-every]', '0');
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.click('[data-testid=start]');
    await waitFor(page, 'the first step', async () => Number(await page.locator('[data-testid=chart-loss]').getAttribute('data-points')) >= 1, 300_000);

    const saves = new Map<number, { blockedMs: number; writeMs: number }>();
    const until = Date.now() + TRAIN_MS;
    while (Date.now() < until) {
      const s = await saveSeen(page);
      if (s && s.step > 0) saves.set(s.step, { blockedMs: s.blockedMs, writeMs: s.writeMs });
      await page.waitForTimeout(100);
    }
    await page.click('[data-testid=pause]');
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    // The pause's own save.
    await page.waitForTimeout(1000);
    const last = await saveSeen(page);
    if (last && last.step > 0) saves.set(last.step, { blockedMs: last.blockedMs, writeMs: last.writeMs });

    const columns = await page.evaluate(() => {
      const c = window.__moco!.store.columns;
      return { step: Array.from(c.step.values()), elapsedMs: Array.from(c.elapsedMs.values()), stepMs: Array.from(c.stepMs.values()) };
    });
    // Wall time from one step's end to the next's (training time, saves included), from step 3 on (the first steps compile).
    const lines: object[] = [{ kind: 'setup', backend, preset: 'tiny', batch: 8, datasetSize: 1000, autosaveSeconds: 8, userAgent: await page.evaluate(() => navigator.userAgent) }];
    const afterSave: number[] = [];
    const others: number[] = [];
    for (let i = 2; i < columns.step.length; i++) {
      const step = columns.step[i];
      const wallMs = columns.elapsedMs[i] - columns.elapsedMs[i - 1];
      // A save after step s runs between steps s and s + 1: s + 1 is the step that waits for it.
      const nextToSave = saves.has(step - 1);
      (nextToSave ? afterSave : others).push(wallMs);
      lines.push({ kind: 'step', step, wallMs, stepMs: columns.stepMs[i], afterSave: nextToSave });
    }
    for (const [step, s] of saves) lines.push({ kind: 'save', step, ...s });
    await writeFile(resolve(RESULTS, 'save-stall-chromium.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const blocked = [...saves.values()].map((s) => s.blockedMs);
    const writes = [...saves.values()].map((s) => s.writeMs);
    console.log(
      `${backend}: ${columns.step.length} steps, ${saves.size} saves; step to step ${median(others).toFixed(1)} ms (median of ${others.length}), ` +
        `next to a save ${median(afterSave).toFixed(1)} ms (median of ${afterSave.length}, max ${Math.max(...afterSave).toFixed(1)}); ` +
        `a save held training ${median(blocked).toFixed(1)} ms (median, max ${Math.max(...blocked).toFixed(1)}), wrote ${median(writes).toFixed(1)} ms (median)`,
    );
    expect(backend).toBe('webgpu');
    expect(saves.size).toBeGreaterThanOrEqual(3);
    expect(afterSave.length).toBeGreaterThanOrEqual(2);
    expect(median(blocked)).toBeLessThan(0.25 * median(others));
  }, 600_000);
});
