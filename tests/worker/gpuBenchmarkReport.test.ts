import { describe, expect, it } from 'vitest';
import type { BackendRun, BenchReport } from '../../src/worker/gpuBenchmarkReport';
import { benchSizes, benchTable, fastestVariant, formatRatio, isSoftwareDevice, recommendation } from '../../src/worker/gpuBenchmarkReport';
import { benchResult, variantResult } from '../support/benchResults';


function report(runs: BackendRun[]): BenchReport {
  return { sizes: benchSizes({ preset: 'resnet8', batch: 128, version: 'v2', queueSize: 4096 }, true), runs, fastest: fastestVariant(runs), ms: 1000 };
}

// The shape of docs/PERFORMANCE.md's Chromium run 3 on SwiftShader: WebGPU ours 2.35× stock, WebGL faster still.
const webgpu: BackendRun = {
  backend: 'webgpu',
  device: 'google swiftshader',
  software: true,
  result: benchResult('webgpu', [variantResult('stock', 2319, 896, 2619), variantResult('custom', 988, 184, 976)], []),
  error: null,
};
const webgl: BackendRun = {
  backend: 'webgl',
  device: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)',
  software: true,
  result: benchResult('webgl', [variantResult('stock', 435, null, null)], [
    'dispatch counts are for WebGPU only (backend webgl)',
    'no GPU time: WebGL has no GPU timer here (EXT_disjoint_timer_query_webgl2), and wall time per kernel is not GPU time',
  ]),
  error: null,
};

describe('Benchmark my GPU: what the runs say', () => {
  it('times the user setup on a GPU and the small default on a software renderer', () => {
    const request = { preset: 'resnet18', batch: 256, version: 'v2', queueSize: 16384 } as const;
    expect(benchSizes(request, false)).toEqual({ preset: 'resnet18', batch: 256, version: 'v2', queueSize: 16384, warmup: 2, steps: 5, basis: 'setup' });
    expect(benchSizes(request, true)).toEqual({ preset: 'tiny', batch: 8, version: 'v2', queueSize: 4096, warmup: 1, steps: 2, basis: 'software' });
    expect(isSoftwareDevice('google swiftshader')).toBe(true);
    expect(isSoftwareDevice('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)')).toBe(true);
    expect(isSoftwareDevice('llvmpipe (LLVM 15.0.6, 256 bits)')).toBe(true);
    expect(isSoftwareDevice('nvidia hopper')).toBe(false);
    expect(isSoftwareDevice('ANGLE (NVIDIA, NVIDIA H100 80GB HBM3/PCIe/SSE2, OpenGL 4.5)')).toBe(false);
    expect(isSoftwareDevice(null)).toBe(false);
  });

  it('rows: ours before stock, ratios against stock and the fastest, n/a with the reason', () => {
    const r = report([webgpu, webgl]);
    expect(r.fastest).toEqual({ backend: 'webgl', variant: 'stock', imagesPerSecond: 8000 / 435 });
    const { rows, failures } = benchTable(r);
    expect(failures).toEqual([]);
    expect(rows.map((x) => `${x.backend}/${x.kernels}`)).toEqual(['webgpu/ours', 'webgpu/stock', 'webgl/stock']);
    const [ours, stock, gl] = rows;
    expect(ours.dispatches).toBe(184);
    // The host part of the step (recording and submitting) as timed: here the whole step.
    expect([ours.stepMs, ours.hostMs]).toEqual([988, 988]);
    expect(ours.vsStock!.imagesPerSecond).toBeCloseTo(2319 / 988, 10);
    expect(ours.vsStock!.dispatches).toBeCloseTo(896 / 184, 10);
    expect(ours.vsStock!.gpuTime).toBeCloseTo(2619 / 976, 10);
    expect(stock.vsStock).toBeNull();
    expect(ours.relative).toBeCloseTo(435 / 988, 10);
    expect(gl.fastest && !ours.fastest && !stock.fastest).toBe(true);
    expect(gl.relative).toBe(1);
    expect(gl.dispatches).toBeNull();
    expect(gl.dispatchesNote).toMatch(/WebGPU only/);
    expect(gl.gpuMs).toBeNull();
    expect(gl.gpuNote).toMatch(/^no GPU time: WebGL has no GPU timer/);
    expect(ours.gpuNote).toBeNull();
  });

  it('recommends the fastest configuration against the best of the next backend, and how to switch', () => {
    const slow = report([webgpu, webgl]);
    expect(recommendation(slow, 'webgl')).toBe("WebGL is 2.3× as fast as WebGPU with our kernels here; our WebGPU kernels are 2.3× as fast as stock tfjs's.");
    expect(recommendation(slow, 'webgpu')).toMatch(/— the app trains on WebGPU; open it with \?backend=webgl to train on WebGL\.$/);

    // A GPU where ours win: 2.2× WebGL, and the app already trains on the fastest.
    const gpu: BackendRun = { ...webgpu, device: 'nvidia hopper', software: false, result: benchResult('webgpu', [variantResult('stock', 40, 1225, 30), variantResult('custom', 10, 246, 8)], []) };
    const gl: BackendRun = { ...webgl, device: 'ANGLE (NVIDIA H100)', software: false, result: benchResult('webgl', [variantResult('stock', 22, null, null)], []) };
    expect(recommendation(report([gpu, gl]), 'webgpu')).toBe("WebGPU with our kernels is 2.2× as fast as WebGL here; our WebGPU kernels are 4× as fast as stock tfjs's.");

    // Only WebGL: the reason WebGPU did not run is in the line.
    const noGpu: BackendRun = { backend: 'webgpu', device: null, software: false, result: null, error: 'WebGPU unavailable: no adapter (navigator.gpu.requestAdapter() returned null)' };
    const only = report([noGpu, webgl]);
    expect(benchTable(only).failures).toEqual([{ backend: 'webgpu', error: noGpu.error }]);
    expect(recommendation(only, 'webgl')).toBe(`Only WebGL ran here (${noGpu.error}).`);
    expect(recommendation(report([noGpu]), null)).toBe(`Nothing could be timed here: ${noGpu.error}.`);
  });

  it('formats ratios to two significant digits', () => {
    expect([formatRatio(2.16), formatRatio(12.4), formatRatio(0.456), formatRatio(4)]).toEqual(['2.2×', '12×', '0.46×', '4×']);
  });
});
