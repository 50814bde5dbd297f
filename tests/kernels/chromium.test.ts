import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHROMIUM, withBenchPage } from '../../src/bench/chromium';
import type { KernelCheck } from '../../src/bench/kernelChecks';
import type { PageBench } from '../../src/bench/page';
import type { BenchResult } from '../../src/perf/stepBenchmark';

type PageWindow = { mocoBench: PageBench };

describe('custom WebGPU kernels in headless Chromium', () => {
  it('match the stock kernels, and the page benchmark counts fewer dispatches with them', async () => {
    expect(existsSync(CHROMIUM), 'Chromium must be installed: .ci/run does it').toBe(true);
    const { checks, bench } = await withBenchPage(async (page) => {
      // The training step's match is checked in Node (kernels-webgpu.test.ts); the CI budget is 2 cores.
      // Every convolution case runs on both GEMM paths (default and wide tiles): ~160 s on SwiftShader on 2 loaded cores.
      const checks = (await page.evaluate(() => (window as unknown as PageWindow).mocoBench.check({ includeTrainingStep: false }))) as KernelCheck[];
      const bench = (await page.evaluate(() =>
        (window as unknown as PageWindow).mocoBench.run('webgpu', { preset: 'tiny', batch: 2, steps: 2, warmup: 0, queueSize: 16, profile: false }),
      )) as BenchResult;
      return { checks, bench };
    });
    expect(checks.length).toBeGreaterThan(20);
    for (const c of checks) expect(c.relativeError, c.name).toBeLessThan(c.tolerance);

    expect(bench.environment.backend).toBe('webgpu');
    expect(bench.environment.runtime).toMatch(/Chrome/);
    const [stock, custom] = ['stock', 'custom'].map((v) => bench.variants.find((r) => r.variant === v)!);
    expect(stock.dispatchesPerStep).toBeGreaterThan(0);
    expect(custom.dispatchesPerStep).toBeLessThan(stock.dispatchesPerStep!);
    expect(custom.loss).toBeCloseTo(stock.loss, 4);
    expect(custom.liveTensorGrowthPerStep).toBe(0);
  }, 300_000);
});
