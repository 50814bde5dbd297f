import { describe, expect, it } from 'vitest';
import { benchmarkStep, programsOfCall } from '../../src/perf/stepBenchmark';
import { useCpuBackend } from '../support/helpers';

describe('the benchmark profiles the convolutions by shape (issue #15: tiles chosen per shape)', () => {
  it("lists every convolution call of a profiled step by kernel and shapes, their time summing to the kernel's (tfjs's CPU backend, tiny preset)", async () => {
    await useCpuBackend();
    const result = await benchmarkStep({ preset: 'tiny', batch: 2, steps: 1, warmup: 0, queueSize: 16, variants: ['custom'], countDispatches: false });
    const [custom] = result.variants;
    const convolutions = custom.gpuMsByConvolution!;
    const calls = (kernel: string) => convolutions.filter((c) => c.kernel === kernel).reduce((n, c) => n + c.calls, 0);
    // The tiny preset's 6 convolutions: forward in both encoders (12), input gradients but the stem's (5), weight gradients (6).
    expect([calls('Conv2D'), calls('Conv2DBackpropInput'), calls('Conv2DBackpropFilter')]).toEqual([12, 5, 6]);
    for (const kernel of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']) {
      const ms = convolutions.filter((c) => c.kernel === kernel).reduce((t, c) => t + c.ms, 0);
      expect(ms, kernel).toBeCloseTo(custom.gpuMsByKernel![kernel], 6);
    }
    // Stage 1's two 4 → 4 convolutions share a shape: one entry, 2 layers × 2 encoders forward, 2 calls in each gradient.
    const stage1 = convolutions.filter((c) => JSON.stringify(c.inputShapes) === '[[2,32,32,4],[3,3,4,4]]');
    expect(stage1).toMatchObject([
      { kernel: 'Conv2D', outputShape: [2, 32, 32, 4], calls: 4 },
      { kernel: 'Conv2DBackpropInput', outputShape: [2, 32, 32, 4], calls: 2 },
    ]);
    expect(convolutions.find((c) => c.kernel === 'Conv2DBackpropFilter' && c.outputShape.join() === '3,3,4,4')).toMatchObject({ inputShapes: [[2, 32, 32, 4], [2, 32, 32, 4]], calls: 2 });
    // Stage 2's strided 3×3: its input gradient (dy, filter → dx) and weight gradient (x, dy → dW).
    expect(convolutions.find((c) => c.kernel === 'Conv2DBackpropInput' && c.inputShapes[1].join() === '3,3,4,8')).toMatchObject({ inputShapes: [[2, 16, 16, 8], [3, 3, 4, 8]], outputShape: [2, 32, 32, 4], calls: 1 });
    expect(convolutions.find((c) => c.kernel === 'Conv2DBackpropFilter' && c.outputShape.join() === '3,3,4,8')).toMatchObject({ inputShapes: [[2, 32, 32, 4], [2, 16, 16, 8]], calls: 1 });
    // No WebGPU programs on the CPU.
    for (const c of convolutions) expect(c.programs).toEqual({});
  }, 120_000);

  it("reads the programs of a call and their GPU ms from tfjs-webgpu's profile information", () => {
    expect(programsOfCall('MocoConv2DBackpropFilterWide: 0.5, MocoSplitKSum: 0.125')).toEqual({ MocoConv2DBackpropFilterWide: 0.5, MocoSplitKSum: 0.125 });
    expect(programsOfCall('Conv2DMMProgram2: 1.5, Conv2DMMProgram2: 0.25')).toEqual({ Conv2DMMProgram2: 1.75 });
    // Other backends give none.
    expect(programsOfCall('')).toEqual({});
    expect(programsOfCall(undefined)).toEqual({});
  });
});
