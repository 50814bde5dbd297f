/**
 * The app on a machine without a GPU API: Chromium without WebGPU (no `--enable-unsafe-webgpu`) and
 * without WebGL (`--disable-gpu --disable-software-rasterizer`: no GPU and no software GL; `--disable-webgl`
 * alone leaves WebGL on in this headless Chromium). The training Worker falls back to tfjs's WebAssembly backend,
 * whose `.wasm` binary the built app serves itself, says so and why, and trains the tiny preset,
 * under the built app's Content-Security-Policy with no violation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { attr, NO_GL, openApp, stepTo, text, useApp } from './harness';

describe('WebAssembly, the fallback without a GPU', () => {
  const app = useApp({ webgpu: false, extraArgs: NO_GL, viewport: { width: 1280, height: 900 } });
  const violations: string[] = [];
  /** Every `.wasm` file the page and its Workers asked for. */
  const wasmRequests: string[] = [];

  beforeAll(async () => {
    const { page } = app;
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
  });

  it('says it trains on WebAssembly and why, trains a step of the tiny preset, with no CSP violation', async () => {
    const { page, url, pageErrors } = app;
    await openApp(page, url, { query: 'testHooks' });
    expect(await attr(page, 'backend', 'data-backend')).toBe('wasm');
    expect(await text(page, 'backend')).toBe('WebAssembly');
    // How it runs: SIMD on one thread (the threaded build's blob: scripts are outside the app's policy).
    expect(await text(page, 'backend-detail')).toBe('SIMD, 1 thread');
    // Why: each backend ahead of it, with its reason.
    const reason = await text(page, 'backend-reason');
    expect(reason).toMatch(/^WebGPU unavailable: .+; WebGL unavailable: .+$/);
    // The binary came from the app itself (a hashed asset of the build), nowhere else.
    expect(wasmRequests.length).toBeGreaterThan(0);
    for (const asked of wasmRequests) expect(asked).toMatch(new RegExp(`^${url}assets/tfjs-backend-wasm-simd-[\\w-]+\\.wasm$`));

    await page.selectOption('[data-testid=preset]', 'tiny');
    await page.selectOption('[data-testid=batch]', '8');
    await stepTo(page, 1, 120_000);
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
