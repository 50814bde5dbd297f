/**
 * The classroom replay, end to end in Chromium (CPU backend): a recording made by the headless
 * trainer (tests/fixtures/replay-tiny.zip: 12 tiny steps on the app's CIFAR-10 sample, kNN and probe
 * every 4 steps) opened with `?replay=URL`, played at 100×: the page says it is a recording and
 * where it was made, the training controls wait, the charts reach every recorded step and the
 * recorded final kNN, then the final checkpoint goes into the Worker and the Evaluation panel works
 * on that model; leaving the replay gives the controls back.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeRecording } from '../../src/train/recording';
import { REPLAY_WAIT } from '../../src/ui/components/Charts';
import { attr, openApp, RESULTS, ROOT, text, useApp, waitFor } from './harness';

const FIXTURE = resolve(ROOT, 'tests/fixtures/replay-tiny.zip');

describe('the classroom replay, end to end', () => {
  const app = useApp({ webgpu: false, viewport: { width: 1280, height: 1000 } });
  const bytes = readFileSync(FIXTURE);
  const recording = decodeRecording(new Uint8Array(bytes), 'replay-tiny.zip');
  const finalKnn = recording.manifest.knn.at(-1)!;
  const finalProbe = recording.manifest.probes.at(-1)!;

  // The recording as a teacher's host would serve it, beside the app.
  beforeAll(() => app.page.route('**/class/replay-tiny.zip', (route) => route.fulfill({ status: 200, contentType: 'application/zip', body: bytes })));

  it('offers no shipped recording when none is listed, only opening one', async () => {
    const { page, url } = app;
    await openApp(page, url, { backend: 'cpu' });
    await page.locator('[data-testid=replay-offer]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=replay-pick]').count()).toBe(0);
    expect(await page.locator('[data-testid=replay-open]').count()).toBe(1);
    // A teacher is told why there is nothing to play, and how to make a recording.
    await page.locator('[data-testid=replay-none-shipped]').waitFor({ timeout: 30_000 });
    expect(await text(page, 'replay-none-shipped')).toContain('npm run train -- … --record FILE.zip');
  }, 120_000);

  it('plays ?replay=URL at 100× to the recorded final kNN, says it is a recording, then explores its final model', async () => {
    const { page, url, pageErrors } = app;
    await page.goto(`${url}?backend=cpu&replay=class/replay-tiny.zip`);
    const panel = page.locator('[data-testid=replay]');
    await panel.waitFor({ timeout: 120_000 });
    // At 1× (its pace), the recording first spends 7 s on the untrained network's kNN: the panel says
    // so, and the still charts say that the recording brings the first step, not Start (which waits).
    expect(await text(page, 'replay-evaluating')).toBe('scoring kNN at step 0 (the untrained network): no training meanwhile');
    // The status line is the replay's, not "Ready".
    expect(await text(page, 'run-state')).toMatch(/^Replay(ing| paused)$/);
    expect(await text(page, 'chart-empty-loss')).toContain(REPLAY_WAIT);
    expect(await text(page, 'chart-empty-loss')).not.toContain('Press Start');
    // Nothing is known yet: no kNN figure beside "kNN – (not yet)".
    expect(await text(page, 'replay-results')).toBe('kNN – (not yet) · linear probe – (not yet)');
    // The live parameters, the setup and the data wait with Start: moved, they would reach the run held aside.
    for (const id of ['momentum', 'queue', 'lr', 'preset', 'batch', 'data-builtin']) expect(await page.locator(`[data-testid=${id}]`).isDisabled()).toBe(true);
    // So do the evaluations until the recording's final model is loaded: the Worker's model is the run held aside.
    expect(await page.locator('[data-testid=embedding-refresh]').isDisabled()).toBe(true);
    expect(await text(page, 'eval-waiting')).toContain('final model once it is loaded');
    // The Data panel still shows the run held aside (built-in shapes), and says that the recording was made on other data.
    expect(await text(page, 'data-name')).toBe('Built-in shapes');
    expect(await text(page, 'data-replay')).toContain(`The recording shown was made on ${recording.manifest.setup.dataset.name}.`);
    expect(await text(page, 'replay-badge')).toBe('Recording');
    const made = await text(page, 'replay-made');
    expect(made).toContain('This is a recording, not training in this tab');
    expect(made).toContain(recording.manifest.made.device);
    expect(made).toContain('npm run train -- --preset tiny');
    // Training waits while the replay is shown.
    expect(await page.locator('[data-testid=start]').isDisabled()).toBe(true);
    // The fixture ran on the CPU: the panel says so.
    expect(await text(page, 'replay-no-gpu')).toContain(`Not made on a GPU: 12 steps on the CPU, ${recording.manifest.made.device}.`);

    // Only now 100×: the 12 steps then pass in under a second, which a loaded machine spends on the checks above.
    await page.selectOption('[data-testid=replay-speed]', '100');
    await waitFor(page, 'the end of the replay', async () => (await panel.getAttribute('data-ended')) === 'true', 60_000);
    expect(await panel.getAttribute('data-steps')).toBe('12');
    // The charts drew every recorded step; the kNN chart ends at the recorded final kNN.
    await waitFor(page, 'the loss chart', async () => (await page.locator('[data-testid=chart-loss]').getAttribute('data-points')) === '12', 30_000);
    const readout = ((await panel.locator('[data-testid=knn-readout]').textContent()) ?? '').trim();
    expect(readout).toContain(`last kNN at step ${finalKnn.step}`);
    // Its line is the recording's kNN, not a run of this tab.
    expect(readout).toContain(`kNN (recorded) ${(100 * finalKnn.accuracy).toFixed(1)}%`);
    expect(readout).not.toContain('this run');
    expect(await page.locator('[data-testid=replay] [data-testid=knn-chart]').getAttribute('data-points')).toBe(String(recording.manifest.knn.length));
    expect(await text(page, 'replay-progress')).toMatch(/^step 12 of 12/);
    expect(await text(page, 'replay-results')).toContain(`the untrained network: kNN ${(100 * recording.manifest.knn[0].accuracy).toFixed(1)}%`);
    expect(await text(page, 'run-state')).toBe('Replayed');
    await page.screenshot({ path: resolve(RESULTS, 'replay.png'), fullPage: true });
    // A link for the class: it opens the same recording in a student's page.
    await page.click('[data-testid=replay-copy-link]');
    const link = await attr(page, 'replay-link-note', 'data-link');
    expect(link).toBe(`${url}?replay=%2Fclass%2Freplay-tiny.zip`);
    const student = await app.browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await student.route('**/class/replay-tiny.zip', (route) => route.fulfill({ status: 200, contentType: 'application/zip', body: bytes }));
      await student.goto(`${link}&backend=cpu`);
      await student.locator('[data-testid=replay-badge]').waitFor({ timeout: 120_000 });
      expect(await text(student, 'replay-made')).toContain(recording.manifest.made.device);
    } finally {
      await student.close();
    }

    // At the end the final checkpoint is resumed in the Worker (the sample read first).
    await waitFor(page, 'the final model loaded', async () => (await attr(page, 'replay-final', 'data-state')) === 'loaded', 120_000);
    expect(await text(page, 'status-step')).toBe('12');
    // The Evaluation panel has the recording's history and runs on its final model.
    expect(await text(page, 'probe-result')).toContain(`${(100 * finalProbe.accuracy).toFixed(1)}%`);
    // The recorded probe kept no feature width: none is shown (never "NaN features").
    expect(await text(page, 'probe-result')).toMatch(/epochs on 5,000 images/);
    expect(await page.locator('[data-testid=eval-waiting]').count()).toBe(0);
    // The Worker now has the sample the recording trained on: the panel shows it, with no note.
    expect(await page.locator('[data-testid=data-replay]').count()).toBe(0);
    await page.click('[data-testid=embedding-refresh]');
    await waitFor(page, 'the embedding', async () => (await page.locator('[data-testid=embedding-scatter]').getAttribute('data-points')) === '1000', 120_000);
    // The kNN history lists evaluations, not "runs" (the word of training runs and experiments).
    expect(await text(page, 'knn-history')).toBe(`Every kNN result (${recording.manifest.knn.length})`);

    // A teacher goes back to step 6 to show it again: the charts and the progress are there, paused.
    await page.fill('[data-testid=replay-seek]', '6');
    await waitFor(page, 'the charts at step 6', async () => (await page.locator('[data-testid=chart-loss]').getAttribute('data-points')) === '6', 30_000);
    expect(await text(page, 'replay-progress')).toMatch(/^step 6 of 12/);
    expect(await text(page, 'run-state')).toBe('Replay paused');
    expect(await text(page, 'replay-toggle')).toBe('Play');

    // Leaving gives the run in use and the controls back.
    await page.click('[data-testid=replay-leave]');
    await page.locator('[data-testid=replay-offer]').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    expect(await text(page, 'status-step')).toBe('0');
    expect(await page.locator('[data-testid=momentum]').isDisabled()).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 400_000);
});
