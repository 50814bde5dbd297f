import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { runBenchmarks } from '../../src/worker/gpuBenchmark';

/**
 * The benchmark Worker's runner, driven directly in Node: no WebGPU here (the skipped backend and
 * its reason), and the CPU backend really timed, at the software sizes.
 */
describe('Benchmark my GPU: the runner (Node, CPU backend)', () => {
  it('skips what cannot start, times what can, and names the fastest', async () => {
    const lines: string[] = [];
    const report = await runBenchmarks({ preset: 'resnet8', batch: 64, version: 'v2', queueSize: 1024, backends: ['webgpu', 'cpu'] }, (l) => lines.push(l));
    // The CPU renders in software: the small default instead of ResNet-8 at batch 64.
    expect(report.sizes).toMatchObject({ preset: 'tiny', batch: 8, warmup: 1, steps: 2, basis: 'software' });
    const [gpu, cpu] = report.runs;
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.result).toBeNull();
    expect(gpu.error).toMatch(/^WebGPU unavailable: /);
    expect(cpu).toMatchObject({ backend: 'cpu', software: true, error: null });
    const result = cpu.result!;
    expect(result.environment.backend).toBe('cpu');
    expect(result.variants.map((v) => v.variant)).toEqual(['stock']);
    const stock = result.variants[0];
    expect(stock.stepMs).toHaveLength(2);
    expect(stock.imagesPerSecond).toBeGreaterThan(0);
    expect(stock.imagesPerSecond).toBeCloseTo(8000 / stock.medianStepMs, 6);
    expect(stock.liveTensorGrowthPerStep).toBe(0);
    // No GPU timer on the CPU: not profiled, and the note says why.
    expect(stock.gpuMsPerStep).toBeNull();
    expect(result.notes.some((n) => /^no GPU time: the CPU backend has no GPU timer/.test(n))).toBe(true);
    expect(report.fastest).toEqual({ backend: 'cpu', variant: 'stock', imagesPerSecond: stock.imagesPerSecond });
    expect(lines.some((l) => /step 2\/2/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('Timing MoCo v2, tiny at batch 8'))).toBe(true);
    // Each backend is disposed once timed: nothing of it is left in this engine.
    expect(tf.engine().registryFactory.cpu).toBeUndefined();
  }, 120_000);
});
