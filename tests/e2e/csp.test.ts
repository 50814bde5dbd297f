/**
 * The built app's Content-Security-Policy, enforced by Chromium: the page and its Workers train
 * (on WebGPU, and on tfjs's WebAssembly backend), load a streamed archive, decode images, evaluate
 * and benchmark without a single violation, while eval and a remote connection — what the policy
 * exists to stop — are refused.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SHARED } from '../support/helpers';
import { stepCount, text, useApp, waitFor } from './harness';

const TEST_1K = resolve(SHARED, 'data/cifar10/test_1k.bin');

function png(rgb: [number, number, number]): Buffer {
  const image = new PNG({ width: 40, height: 24 });
  for (let p = 0; p < 40 * 24; p++) image.data.set([...rgb, 255], 4 * p);
  return PNG.sync.write(image);
}

describe('Content-Security-Policy of the built app', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 1000 } });
  /** Every CSP complaint: the document's securitypolicyviolation events and the console (Workers' included). */
  const violations: string[] = [];

  beforeAll(async () => {
    const { page } = app;
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`console: ${m.text()}`);
    });
    await page.exposeFunction('__reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { __reportViolation: (v: string) => void }).__reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
      });
    });
  });

  it('is sent by vite preview and written into the built page', async () => {
    const { page, url } = app;
    const response = await page.goto(url);
    const header = response?.headers()['content-security-policy'] ?? '';
    expect(header).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(header).toContain("frame-ancestors 'none'");
    const meta = await page.locator('meta[http-equiv=Content-Security-Policy]').getAttribute('content');
    expect(meta).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(meta).toContain("connect-src 'self'");
    // WebAssembly may compile; JavaScript may not be made from strings.
    expect(meta).not.toMatch(/'unsafe-eval'|'unsafe-inline'[^;]*;.*script|script-src[^;]*'unsafe-inline'/);
  });

  it('trains a few steps, loads an archive and a folder of images, evaluates and benchmarks with no violation', async () => {
    const { page, url, pageErrors } = app;
    await page.goto(`${url}?testHooks`);
    await waitFor(page, 'the built-in summary', async () => (await page.locator('[data-testid=data-name]').count()) > 0, 120_000);
    await page.selectOption('[data-testid=preset]', 'tiny');
    await page.selectOption('[data-testid=batch]', '8');
    await page.locator('[data-testid=start]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.click('[data-testid=start]');
    await waitFor(page, 'two training steps', async () => (await stepCount(page)) >= 2, 120_000);

    // A CIFAR-10 archive, streamed and gunzipped in the Worker, while training goes on.
    const bytes = readFileSync(TEST_1K);
    const gz = gzipSync(
      createTar([
        { name: 'cifar-10-batches-bin/data_batch_1.bin', data: bytes.subarray(0, 200 * 3073) },
        { name: 'cifar-10-batches-bin/test_batch.bin', data: bytes.subarray(200 * 3073, 300 * 3073) },
      ]),
    );
    await page.setInputFiles('[data-testid=data-files]', { name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: Buffer.from(gz) });
    await waitFor(page, 'the archive loaded', async () => (await text(page, 'data-name')).includes('cifar-10-binary.tar.gz'), 120_000);

    // A folder of PNG images, decoded with createImageBitmap and drawn on an OffscreenCanvas.
    const dir = join(mkdtempSync(join(tmpdir(), 'csp-')), 'colours');
    ['red', 'blue'].forEach((cls, c) => {
      mkdirSync(join(dir, cls), { recursive: true });
      for (let i = 0; i < 12; i++) writeFileSync(join(dir, cls, `${i}.png`), png(c === 0 ? [200, 20 + i, 20] : [20, 20 + i, 200]));
    });
    await page.setInputFiles('[data-testid=data-folder]', dir);
    await waitFor(page, 'the images loaded', async () => (await text(page, 'data-name')) === 'colours', 120_000);

    // An evaluation (the kNN monitor, in the training Worker) and the benchmark (a Worker of its own).
    await page.click('[data-testid=knn-run]');
    await waitFor(page, 'the kNN result', async () => (await page.locator('[data-testid=knn-latest]').count()) > 0, 300_000);
    await page.click('[data-testid=bench-start]');
    await page.locator('[data-testid=bench-result]').waitFor({ timeout: 300_000 });

    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 600_000);

  it("trains on tfjs's WebAssembly backend (the fallback without a GPU) with no violation: 'wasm-unsafe-eval' is all it needs", async () => {
    const { page, url, pageErrors } = app;
    await page.goto(`${url}?backend=wasm&testHooks`);
    await page.locator('[data-testid=backend][data-backend=wasm]').waitFor({ timeout: 120_000 });
    await page.selectOption('[data-testid=preset]', 'tiny');
    await page.selectOption('[data-testid=batch]', '8');
    await page.locator('[data-testid=step]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.click('[data-testid=step]');
    await waitFor(page, 'a step on WebAssembly', async () => (await stepCount(page)) >= 1, 120_000);
    expect(Number.isFinite((await page.evaluate(() => window.__moco!.store.last()))!.loss)).toBe(true);
    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('refuses an injected inline script and a remote connection (the policy is enforced, not just present)', async () => {
    const { page } = app;
    // (Code run through the DevTools protocol, as page.evaluate's, is exempt from the page's CSP; a
    // script element it adds to the page is not.)
    const outcome = await page.evaluate(async () => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.head.append(script);
      let fetchResult = 'allowed';
      try {
        await fetch('https://example.com/');
      } catch (e) {
        fetchResult = (e as Error).name;
      }
      return { injected: (window as unknown as { __injected?: boolean }).__injected === true, fetchResult };
    });
    expect(outcome).toEqual({ injected: false, fetchResult: 'TypeError' });
    // The Workers run under the policy of their script's response header: a remote connection there
    // is refused too (a violation event in the Worker, not just a failed fetch, which no network would also give).
    // The training Worker lives as long as the page; the benchmark's is ended when its result is in,
    // and may still be listed while it closes, so only the training Worker is asked.
    const workers = page.workers().filter((w) => /training\.worker/.test(w.url()));
    expect(workers).toHaveLength(1);
    for (const worker of workers) {
      const directive = await worker.evaluate(
        () =>
          new Promise<string>((resolve) => {
            self.addEventListener('securitypolicyviolation', (e) => resolve((e as SecurityPolicyViolationEvent).effectiveDirective), { once: true });
            fetch('https://example.com/').catch(() => undefined);
            setTimeout(() => resolve('no violation'), 5000);
          }),
      );
      expect(directive).toBe('connect-src');
    }
    await waitFor(page, 'the violation reports', async () => violations.some((v) => /connect-src/.test(v)) && violations.some((v) => /script-src/.test(v)), 10_000);
  });
});
