/**
 * The app on a machine without a GPU API: Chromium without WebGPU (no `--enable-unsafe-webgpu`) and
 * without WebGL (`--disable-gpu --disable-software-rasterizer`: no GPU and no software GL; `--disable-webgl`
 * alone leaves WebGL on in this headless Chromium). The training Worker falls back to tfjs's WebAssembly backend,
 * whose `.wasm` binary the built app serves itself, says so and why, and trains the tiny preset,
 * under the built app's Content-Security-Policy with no violation.
 */
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndPreview, CHROMIUM, HAVE_CHROMIUM, launchChromium, NO_GL, waitFor } from './harness';

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.locator(`[data-testid=${testId}]`).first().textContent()) ?? '').trim();
}

describe('WebAssembly, the fallback without a GPU', () => {
  let served: { url: string; server: PreviewServer };
  let browser: Browser;
  let page: Page;
  const violations: string[] = [];
  const pageErrors: string[] = [];
  /** Every `.wasm` file the page and its Workers asked for. */
  const wasmRequests: string[] = [];

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    served = await buildAndPreview('e2e-dist-wasm');
    browser = await launchChromium(false, NO_GL);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (/\.wasm(\?|$)/.test(r.url())) wasmRequests.push(r.url());
    });
    await page.exposeFunction('__reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { __reportViolation: (v: string) => void }).__reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`);
      });
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await served?.server.close();
  });

  it('says it trains on WebAssembly and why, trains a step of the tiny preset, with no CSP violation', async () => {
    await page.goto(`${served.url}?testHooks`);
    await page.locator('[data-testid=backend][data-backend]').waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-testid=backend]').getAttribute('data-backend')).toBe('wasm');
    expect(await text(page, 'backend')).toBe('WebAssembly');
    // How it runs: SIMD on one thread (the threaded build's blob: scripts are outside the app's policy).
    expect(await text(page, 'backend-detail')).toBe('SIMD, 1 thread');
    // Why: each backend ahead of it, with its reason.
    const reason = await text(page, 'backend-reason');
    expect(reason).toMatch(/^WebGPU unavailable: .+; WebGL unavailable: .+$/);
    // The binary came from the app itself (a hashed asset of the build), nowhere else.
    expect(wasmRequests.length).toBeGreaterThan(0);
    for (const url of wasmRequests) expect(url).toMatch(new RegExp(`^${served.url}assets/tfjs-backend-wasm-simd-[\\w-]+\\.wasm$`));

    await page.selectOption('[data-testid=preset]', 'tiny');
    await page.selectOption('[data-testid=batch]', '8');
    await page.locator('[data-testid=step]:not([disabled])').waitFor({ timeout: 60_000 });
    await page.click('[data-testid=step]');
    await waitFor(page, 'one step on WebAssembly', async () => Number((await text(page, 'status-step')).replace(/,/g, '')) === 1, 120_000);
    const last = await page.evaluate(() => window.__moco!.store.last());
    expect(last).not.toBeNull();
    // The first step trains against an empty queue: a finite loss, its keys enqueued, images through.
    expect(Number.isFinite(last!.loss)).toBe(true);
    expect(last!.queueFilled).toBe(8);
    expect(last!.imagesPerSecond).toBeGreaterThan(0);
    // The evaluation panel says there is no GPU, in the words of this backend.
    expect(await text(page, 'eval-software')).toContain('the tensors run on WebAssembly on the CPU');

    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
