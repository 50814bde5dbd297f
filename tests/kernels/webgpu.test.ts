import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BenchFile } from '../../src/bench/report';
import { kernelCases } from '../../src/kernels/registry';
import { REPO_ROOT, SWIFTSHADER_ENV } from '../support/helpers';

const run = promisify(execFile);

const WIDE = 'custom+Conv2D+GemmWideTiles';

/**
 * One Node process (Dawn finds its Vulkan loader through LD_LIBRARY_PATH, read at start-up) runs
 * every kernel declaration's correctness cases, then counts
 * the dispatches of a MoCo step on the shaders they compiled: `npm run bench -- --check --count-only`.
 */
let file: BenchFile;
beforeAll(async () => {
  expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
  const resultFile = join(mkdtempSync(join(tmpdir(), 'moco-kernels-')), 'result.json');
  // tfjs's GEMM input gradient first, so that stock and custom after it show its flag put back; then the
  // opt-in wide GEMM tiles and our forward convolution (docs/PERFORMANCE.md, session 8), checked in a
  // MoCo step and counted beside the defaults.
  const variants = `custom+TfjsGemmInputGradient,stock,custom,${WIDE}`;
  const argv = ['--check', '--count-only', '--preset', 'tiny', '--batch', '2', '--queue', '16', '--backend', 'webgpu', '--variants', variants, '--result-file', resultFile];
  await run(process.execPath, ['--import', 'tsx', 'src/bench/nodeMain.ts', ...argv], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...SWIFTSHADER_ENV },
    timeout: 540_000,
  }).catch((e: { stderr?: string; stdout?: string }) => {
    // A failed check exits 1 after writing its results: judge by them when they are there.
    if (!existsSync(resultFile)) throw new Error(`${e.stderr ?? ''}${e.stdout ?? ''}`);
  });
  file = JSON.parse(readFileSync(resultFile, 'utf8')) as BenchFile;
  expect(file.errors).toEqual([]);
}, 560_000);

describe('custom WebGPU kernels in Node (Dawn) match the stock kernels', () => {
  // One test per case that the declarations in src/kernels/webgpu carry.
  it.each(kernelCases('webgpu').map((c) => [c.kernel, c.name, c.tolerance ?? 1e-4] as const))('%s: %s', (_kernel, name, tolerance) => {
    const check = file.checks.flatMap((c) => c.checks).find((c) => c.name === name);
    expect(check, `${name} did not run`).toBeDefined();
    expect(check!.tolerance).toBe(tolerance);
    expect(check!.relativeError).toBeLessThan(tolerance);
  });
});

describe('custom WebGPU kernels in Node (Dawn)', () => {
  it('give a MoCo training step that matches one with stock kernels (loss, parameters, gradients)', () => {
    const all = file.checks.flatMap((c) => c.checks).filter((c) => c.name.startsWith('MoCo step'));
    // One check of three figures per custom variant: with TfjsGemmInputGradient, the defaults, with Conv2D and GemmWideTiles.
    expect(all).toHaveLength(9);
    const steps = all.filter((c) => c.name.startsWith('MoCo step ×2 (') || c.name.startsWith('MoCo step ×2:'));
    expect(steps).toHaveLength(3);
    const wide = all.filter((c) => c.name.startsWith('MoCo step ×2 with Conv2D, GemmWideTiles'));
    expect(wide).toHaveLength(3);
    for (const c of [...steps, ...wide]) expect(c.relativeError, c.name).toBeLessThan(c.tolerance);
    expect(steps[0].tolerance).toBe(1e-4);
    expect(steps[1].tolerance).toBe(1e-4);
  });

  it('run the forward convolutions and weight gradients on the wide GEMM tiles when switched on, in as many dispatches', () => {
    const [custom, wide] = ['custom', WIDE].map((v) => file.runs[0].result.variants.find((r) => r.variant === v)!);
    // tfjs's 12 forward convolutions (Conv2DMMProgram at this size) become ours, one dispatch each; the 6 weight gradients take the wide path.
    expect(custom.dispatchesByProgram).toMatchObject({ Conv2DMMProgram: 12, MocoConv2DBackpropFilter: 6 });
    expect(wide.dispatchesByProgram).toMatchObject({ MocoConv2DWide: 12, MocoConv2DBackpropFilterWide: 6 });
    for (const program of ['Conv2DMMProgram', 'MocoConv2D', 'MocoConv2DBackpropFilter', 'Im2ColProgram']) expect(wide.dispatchesByProgram![program], program).toBeUndefined();
    expect(wide.dispatchesPerStep).toBe(custom.dispatchesPerStep);
  });

  it("give the same MoCo step with tfjs's GEMM input gradient (TfjsGemmInputGradient) as with stock kernels", () => {
    const steps = file.checks.flatMap((c) => c.checks).filter((c) => c.name.startsWith('MoCo step ×2 with TfjsGemmInputGradient'));
    expect(steps.map((c) => c.name.replace(/\(tiny.*/, '(tiny…'))).toEqual([
      'MoCo step ×2 with TfjsGemmInputGradient (tiny…',
      'MoCo step ×2 with TfjsGemmInputGradient: query and key parameters, moving statistics',
      'MoCo step ×2 with TfjsGemmInputGradient: query parameter updates (gradients), in norm',
    ]);
    for (const c of steps) expect(c.relativeError, c.name).toBeLessThan(c.tolerance);
  });

  it("run tfjs's GEMM for the input gradient only in the variant that asks for it", () => {
    const { result } = file.runs[0];
    const [gemm, stock, custom] = ['custom+TfjsGemmInputGradient', 'stock', 'custom'].map((v) => result.variants.find((r) => r.variant === v)!);
    // The tiny preset's 5 input gradients (its first convolution's input is the image: none there).
    expect(gemm.dispatchesByProgram!.Conv2DDerInputMMProgram).toBe(5);
    expect(gemm.dispatchesByProgram!.Conv2DDerInputProgram).toBeUndefined();
    expect(gemm.dispatchesByKernel!['Conv2DBackpropInput (backward)']).toBe(5);
    // Counted after it in the same process: tfjs's flag was put back, the direct kernel runs again.
    for (const v of [stock, custom]) {
      expect(v.dispatchesByProgram!.Conv2DDerInputProgram, v.variant).toBe(5);
      expect(v.dispatchesByProgram!.Conv2DDerInputMMProgram, v.variant).toBeUndefined();
    }
    // One program for another: the rest of the step is the default's.
    expect(gemm.dispatchesPerStep).toBe(custom.dispatchesPerStep);
  });

  it('cut the dispatches of a MoCo step to a fifth of stock', () => {
    expect(file.runs).toHaveLength(1);
    expect(file.runs[0].result.variants.map((r) => r.variant)).toEqual(['custom+TfjsGemmInputGradient', 'stock', 'custom', WIDE]);
    const { result } = file.runs[0];
    expect(result).toMatchObject({ preset: 'tiny', batch: 2, queueSize: 16 });
    expect(result.environment.backend).toBe('webgpu');
    const [stock, custom] = ['stock', 'custom'].map((v) => result.variants.find((r) => r.variant === v)!);
    // Exact for the device's storage buffers per stage (L): the tiny preset has 6 convolutions, 6
    // batch-norms (5 of them followed by a ReLU, 2 of those after a residual add), 22 parameters;
    // updates in place take floor(L / 3) parameters per dispatch (θ, v, ∇) and floor(L / 2) moving
    // averages (target, source).
    const buffers = result.environment.storageBuffersPerStage!;
    expect(buffers).toBeGreaterThanOrEqual(8);
    const dispatches = (updates: number, buffersEach: number) => Math.ceil(updates / Math.floor(buffers / buffersEach));
    expect(stock.dispatchesPerStep).toBeGreaterThan(800);
    expect(custom.dispatchesPerStep! * 4.5).toBeLessThan(stock.dispatchesPerStep!);
    // Every batch-norm of the tiny preset at batch 2 is small (≤ 2^21 elements): one dispatch each
    // way. The gradient with a residual binds 9 storage buffers: where a stage has fewer, those 2
    // layers keep the two-pass gradient (sums, then the gradient pass).
    const residualOnePass = buffers >= 9;
    expect(custom.dispatchesByProgram).toMatchObject({
      MocoAugment: 2,
      MocoBatchNormOnePass: 12,
      MocoBatchNormGradOnePass: residualOnePass ? 6 : 4,
      MocoConv2DBackpropFilter: 6,
      MocoInfoNce: 1,
      MocoL2Normalize: 2,
      MocoSgdMomentumInPlace: dispatches(22, 3),
      // 22 momentum-encoder parameters; the batch-norms' moving statistics are updated by their
      // normalising passes (none is left to the moving averages).
      MocoLerpInPlace: dispatches(22, 2),
      // The pooling in one dispatch per pass and one backward; the keys written into the queue in place.
      MocoGlobalAvgPool: 2,
      MocoGlobalAvgPoolGrad: 1,
      MocoRingWrite: 1,
      // The dense layers' bias gradients, one dispatch each; the first one's with its ReLU's gradient.
      MocoBiasGrad: 1,
      MocoBiasReluGrad: 1,
    });
    // ReLU and the residual adds fused into 5 of the 6 batch-norms, forward and backward, and the
    // head's ReLU into its first matmul: no Relu, no ReLU gradient, no Add in the forward pass.
    for (const program of ['MocoBatchNormStats', 'MocoBatchNormNormalize', 'MocoBatchNormNormalizeRelu', 'MocoBatchNormGradStats', 'MocoReluGrad'])
      expect(custom.dispatchesByProgram![program], program).toBeUndefined();
    expect(custom.dispatchesByProgram!.MocoBatchNormReluGradStats).toBe(residualOnePass ? undefined : 2);
    expect(custom.dispatchesByKernel!.Relu).toBeUndefined();
    expect(custom.dispatchesByKernel!._FusedMatMul).toBe(4);
    // Weight gradients of 2·32·32 = 2,048 rows at most: none split, so no summing dispatch.
    expect(custom.dispatchesByProgram!.MocoSplitKSum).toBeUndefined();
    // Shuffle BN's two reorderings ride on the augmentation and the L2 normalisation; the queue
    // write needs no slices; the dense layers' biases are added by the matmuls.
    expect(custom.dispatchesByProgram!.GatherProgram).toBeUndefined();
    // One slice while the queue fills (a step of this test's): its empty-slot bias, a window of a constant.
    expect(custom.dispatchesByProgram!.SliceProgram).toBe(1);
    expect(custom.dispatchesByKernel!.Add).toBeUndefined();
    // After the first step every parameter owns its buffer: no update needs a new tensor.
    expect(custom.dispatchesByProgram!.MocoSgdMomentum).toBeUndefined();
    expect(custom.dispatchesByProgram!.MocoLerp).toBeUndefined();
    // Stock: 5 batch-norms' ReLUs per encoder, and the head's of the query encoder (tfjs's fused
    // matmul applies its activation apart while a gradient is recorded).
    expect(stock.dispatchesByKernel).toMatchObject({ Relu: 11 });
    expect(stock.dispatchesByProgram!.Conv2DDerFilterProgram).toBe(6);
    // Opt-in only (slower than tfjs's on SwiftShader): the stock input gradient runs by default.
    expect(custom.dispatchesByProgram!.MocoConv2DBackpropInput).toBeUndefined();
    expect(custom.dispatchesByProgram!.Conv2DDerInputProgram).toBe(5);
    // Uploads from the CPU: the two views' random draws (the key view's in shuffle BN's order) and
    // the keys' L2 normalisation's row order (the inverse permutation; the queries' rows stay in
    // their order and need none). The queue's empty-slot bias, the loss's gradient seed and the
    // numbers the kernels take (temperature, learning rate, momentum) go up as uniforms or are held
    // on the device.
    expect(custom.uploadsByKernel).toEqual({ MocoAugmentMeanGray: 2, MocoL2NormalizeReordered: 1 });
    expect(custom.uploadsPerStep).toBe(3);
    // A compute pass ends at an upload, at a submit (tfjs submits every 15 dispatches) and at the read-back.
    const submits = Math.ceil(custom.dispatchesPerStep! / 15);
    expect(custom.passesPerStep).toBeGreaterThanOrEqual(submits);
    expect(custom.passesPerStep).toBeLessThanOrEqual(submits + custom.uploadsPerStep! + 1);
    expect(result.speedup.dispatches).toBeCloseTo(stock.dispatchesPerStep! / custom.dispatchesPerStep!, 6);
    // The same training state; stock also keeps the plain augmentation's constants (mean, std, gray
    // weights, image indices, the blur's 1 and 2), which the augmentation kernel does without.
    expect(stock.liveTensors).toBe(custom.liveTensors + 6);
  });
});
