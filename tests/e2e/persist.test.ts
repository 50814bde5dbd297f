/**
 * A run survives a reload: the Worker saves it to IndexedDB after every step taken by hand (as on
 * every pause), the reloaded page offers to resume it, and the step counter and the loss chart go on
 * from there.
 * Chromium without WebGPU, on the CPU backend (`?backend=cpu`): a tiny step takes well under a
 * second there, and the checkpoint is the same on every backend.
 */
import { readFile } from 'node:fs/promises';
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { openApp, savedStep, stepCount, stepTo, text, TINY, useApp, waitFor } from './harness';

describe('saved runs, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 800 }, acceptDownloads: true });

  it('trains, reloads, resumes at the saved step and goes on; downloads and opens the run as a file; lists and deletes it', async () => {
    const { page, url, pageErrors } = app;
    await openApp(page, url, { backend: 'cpu', setup: TINY });
    expect(await page.locator('[data-testid=resume-offer]').count()).toBe(0);

    await stepTo(page, 1);
    // m set to 0 before step 2: the save keeps the marker, and the resumed run's loss chart draws it again.
    await page.focus('[data-testid=momentum]');
    await page.keyboard.press('Home');
    await page.waitForTimeout(500);
    await stepTo(page, 2);
    // A linear probe at step 2: the next save (step 3) keeps it, and the resumed page shows the same figure.
    await page.fill('[data-testid=probe-epochs]', '2');
    await page.click('[data-testid=probe-train]');
    await waitFor(page, 'the probe result', async () => (await page.locator('[data-testid=probe-result]').count()) > 0, 300_000);
    const probe = await text(page, 'probe-result');
    await stepTo(page, 3);
    await waitFor(page, 'the save of step 3', async () => (await savedStep(page)) === 3, 60_000);
    const listed = await page.locator('[data-testid=saved-run]').count();
    expect(listed).toBe(1);

    await page.reload();
    await page.locator('[data-testid=resume-offer]').waitFor({ timeout: 60_000 });
    const offer = await text(page, 'resume-run');
    expect(offer).toMatch(/^Resume run \(step 3, Built-in shapes \(train\), /);
    expect(await stepCount(page)).toBe(0);
    await page.click('[data-testid=resume-run]');
    await waitFor(page, 'the resumed run at step 3', async () => (await stepCount(page)) === 3, 60_000);
    expect(await text(page, 'probe-result')).toBe(probe);
    expect(probe).toMatch(/^top-1 [\d.]+% at step 2/);
    // The charts go on from the saved run's points.
    await waitFor(page, 'the saved loss points', async () => Number(await page.locator('[data-testid=chart-loss]').getAttribute('data-points')) === 3, 30_000);
    const marker = page.locator('[data-testid=chart-loss] text[data-marker]');
    await marker.first().waitFor({ timeout: 20_000 });
    expect(await marker.allTextContents()).toEqual(['m 0']);
    // The setup form follows the resumed run.
    expect(await page.locator('[data-testid=preset]').inputValue()).toBe('tiny');
    expect(await page.locator('[data-testid=batch]').inputValue()).toBe('8');
    expect(await page.locator('[data-testid=resume-offer]').count()).toBe(0);

    await stepTo(page, 4);
    await waitFor(page, 'the loss point of step 4', async () => Number(await page.locator('[data-testid=chart-loss]').getAttribute('data-points')) === 4, 30_000);
    await waitFor(page, 'the save of step 4', async () => (await savedStep(page)) === 4, 60_000);
    // Each save of a run replaces its previous one.
    await waitFor(page, 'the list at step 4', async () => (await page.locator('[data-testid=saved-run-steps]').textContent()) === '4', 30_000);
    expect(await page.locator('[data-testid=saved-run]').count()).toBe(1);
    await page.locator('[data-testid=storage]').waitFor({ timeout: 30_000 });

    // The run as a file: a checkpoint of step 4 that opens again; a file that is none is refused by name.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-run]')]);
    expect(download.suggestedFilename()).toBe('moco-run-tiny-step4.zip');
    const file = await readFile((await download.path())!);
    const manifest = JSON.parse(strFromU8(unzipSync(new Uint8Array(file))['manifest.json']));
    expect(manifest).toMatchObject({ format: 'moco-checkpoint', step: 4, setup: { preset: 'tiny', batchSize: 8 } });
    await page.setInputFiles('[data-testid=open-run]', { name: 'notes.zip', mimeType: 'application/zip', buffer: Buffer.from('not a checkpoint') });
    await page.locator('[data-testid=error]').waitFor({ timeout: 30_000 });
    expect(await text(page, 'error')).toMatch(/^notes\.zip: not a readable checkpoint/);
    expect(await stepCount(page)).toBe(4);
    // A name given in the list stays with the run's later saves.
    expect(await page.locator('[data-testid=saved-run-name]').inputValue()).toBe('tiny on Built-in shapes (train)');
    await page.locator('[data-testid=saved-run-name]').fill('first tiny run');
    await page.locator('[data-testid=saved-run-name]').press('Enter');
    await stepTo(page, 5);
    await waitFor(page, 'the save of step 5', async () => (await savedStep(page)) === 5, 60_000);
    await waitFor(page, 'the list at step 5', async () => (await page.locator('[data-testid=saved-run-steps]').textContent()) === '5', 30_000);
    expect(await page.locator('[data-testid=saved-run-name]').inputValue()).toBe('first tiny run');
    await page.setInputFiles('[data-testid=open-run]', { name: 'moco-run-tiny-step4.zip', mimeType: 'application/zip', buffer: file });
    await waitFor(page, 'the opened run at step 4', async () => (await stepCount(page)) === 4, 60_000);

    await page.getByRole('button', { name: /^Delete the run saved at step/ }).click();
    await waitFor(page, 'an empty list', async () => (await page.locator('[data-testid=saved-run]').count()) === 0, 30_000);
    await page.reload();
    await page.getByText('No saved run yet.').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=resume-offer]').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  }, 600_000);
});
