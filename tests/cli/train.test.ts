import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModelFiles } from '../../src/io/layersModel';
import { SWIFTSHADER_ENV, useCpuBackend } from '../support/helpers';
import { progressRows, runTrainer } from '../support/trainer';

const train = (args: string[], env: Record<string, string> = {}) => runTrainer(args, { env, timeoutMs: 240_000 });

/** The progress rows with the numbers these tests check. */
function rows(stdout: string) {
  return progressRows(stdout).map((r) => {
    const [filled, capacity] = r.queue.split('/').map(Number);
    return { step: r.step, loss: Number(r.loss), filled, capacity, imagesPerSecond: Number(r.imagesPerSecond) };
  });
}

beforeAll(useCpuBackend);

describe('npm run train', () => {
  it('rejects bad options with a clear message and the usage', async () => {
    const cases: [string[], RegExp][] = [
      [['--backend', 'tpu'], /--backend must be one of auto, cpu, wasm, webgpu, got 'tpu'/],
      [['--preset', 'resnet9'], /--preset must be one of tiny, resnet8/],
      [['--steps=0'], /--steps must be an integer ≥ 1, got '0'/],
      [['--batch', '2.5'], /--batch must be an integer ≥ 2/],
      [['--momentum', 'high'], /--momentum must be a number/],
      [['--momentum', '1.5'], /momentum must be in \[0, 1\]/],
      // Named by the option typed, with the values that would do.
      [['--batch', '12', '--bn-splits', '5'], /^error: --bn-splits must divide --batch \(12\), got '5': give one of 1, 2, 3, 4, 6, 12, or change --batch$/m],
      // A swept value out of range is named as typed in --sweep, before any run starts.
      [['--sweep', 'momentum=0.9,2'], /^error: --sweep momentum=2: momentum must be in \[0, 1\], got '2'$/m],
      [['--sweep', 'batch=8,12', '--bn-splits', '8'], /^error: --sweep batch=12: --bn-splits must divide --batch \(12\), got '8'/m],
      // --steps 0 with weights but nothing to do with them: said so, with the options that do something.
      [['--init', 'weights.zip', '--steps', '0'], /^error: --steps 0 trains nothing, and nothing else was asked: add --eval PATH .* --save DIR .* --steps N/m],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['--include', 'TfjsGemInputGradient'], /--include names our kernels and their options \(.*TfjsGemmInputGradient.*\), got 'TfjsGemInputGradient'/],
    ];
    for (const [args, message] of cases) {
      const r = await train(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/usage: npm run train/);
    }
  }, 120_000);

  it('trains on the processor without a GPU, printing a progress line per --log-every steps, and saves loadable weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-cli-'));
    const r = await train(['--preset', 'tiny', '--batch', '16', '--queue', '40', '--steps', '4', '--log-every', '2', '--train-size', '64', '--save', dir, '--save-key']);
    expect(r.code, r.stderr).toBe(0);
    // --backend auto (the default) with no GPU adapter at all (no Vulkan driver): WebAssembly, saying
    // why, and nothing from Dawn on stderr.
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe(
      "backend: WebAssembly (tfjs-backend-wasm, SIMD), not WebGPU: no Vulkan loader (libvulkan.so.1) on this machine, so Dawn has no GPU driver (--backend auto; --backend webgpu to use it anyway, --backend cpu for tfjs's JavaScript CPU backend)",
    );
    expect(r.stdout).toMatch(/backend wasm/);
    const progress = rows(r.stdout);
    expect(progress.map((p) => p.step)).toEqual([2, 4]);
    expect(progress.map((p) => p.filled)).toEqual([32, 40]);
    const summary = /trained 4 steps \(1\.00 epochs\) in ([\d.]+) s of steps \(([\d.]+) img\/s\), ([\d.]+) s with evaluations/.exec(r.stdout);
    expect(summary, r.stdout).not.toBeNull();
    const [stepSeconds, imagesPerSecond, wallSeconds] = summary!.slice(1).map(Number);
    // Both printed to 0.1: the step time is within ±0.05 s of the one the rate was computed from.
    expect(imagesPerSecond).toBeGreaterThanOrEqual((4 * 16) / (stepSeconds + 0.05) - 0.05);
    expect(imagesPerSecond).toBeLessThanOrEqual((4 * 16) / Math.max(stepSeconds - 0.05, 1e-3) + 0.05);
    expect(wallSeconds).toBeGreaterThanOrEqual(stepSeconds - 0.1);
    for (const p of progress) {
      expect(Number.isFinite(p.loss)).toBe(true);
      expect(p.loss).toBeGreaterThan(0);
      expect(p.imagesPerSecond).toBeGreaterThan(0);
      expect(p.capacity).toBe(40);
    }
    // README.txt's commands name the files where they are, not the app's download name.
    expect(readFileSync(join(dir, 'README.txt'), 'utf8')).toContain(`torchrun --nproc_per_node=2 python/train_ddp.py --init ${dir} --data`);
    for (const sub of ['', 'key']) {
      expect(existsSync(join(dir, sub, 'model.json'))).toBe(true);
      const model = await loadLayersModelFiles({
        modelJson: readFileSync(join(dir, sub, 'model.json'), 'utf8'),
        weights: new Uint8Array(readFileSync(join(dir, sub, 'weights.bin'))).buffer,
      });
      expect(model.outputs[0].shape).toEqual([null, 128]);
      const y = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor;
      expect(Number.isFinite(y.sum().dataSync()[0])).toBe(true);
    }
  }, 240_000);

  it('--backend auto (the default) trains on WebAssembly when the only WebGPU adapter renders in software', async () => {
    const r = await train(['--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '1', '--train-size', '16'], SWIFTSHADER_ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      /^backend: WebAssembly \(tfjs-backend-wasm, SIMD\), not WebGPU: the only WebGPU adapter, google swiftshader.*, renders in software \(--backend auto; --backend webgpu to use it anyway, --backend cpu for tfjs's JavaScript CPU backend\)$/,
    );
    expect(r.stdout).toMatch(/backend wasm/);
  }, 120_000);

  it("--backend cpu still trains on tfjs's JavaScript CPU backend", async () => {
    const r = await train(['--backend', 'cpu', '--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '1', '--train-size', '16']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('backend: CPU (tfjs), as asked');
    expect(r.stdout).toMatch(/backend cpu/);
  }, 120_000);

  it('--backend wasm trains on tfjs\'s WebAssembly backend and says so first (and that a WebGPU opt-in does nothing there)', async () => {
    const r = await train(['--backend', 'wasm', '--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '2', '--train-size', '16', '--include', 'GemmWideTiles']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('backend: WebAssembly (tfjs-backend-wasm, SIMD), as asked');
    expect(r.stdout).toContain("opt-in kernels not used on the wasm backend (they are WebGPU's): GemmWideTiles");
    expect(r.stdout).not.toContain('opt-in kernels on:');
    expect(r.stdout).toMatch(/backend wasm/);
    expect(rows(r.stdout).map((p) => p.step)).toEqual([1, 2]);
  }, 120_000);

  it('trains on the webgpu backend through Dawn (SwiftShader when there is no GPU), with an opt-in kernel', async () => {
    expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
    const args = ['--backend', 'webgpu', '--preset', 'tiny', '--batch', '8', '--queue', '16', '--steps', '3', '--train-size', '32', '--include', 'TfjsGemmInputGradient'];
    const r = await train(args, SWIFTSHADER_ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^backend: WebGPU \(Dawn\) on google swiftshader.*, as asked$/);
    expect(r.stdout).toContain('opt-in kernels on: TfjsGemmInputGradient');
    expect(r.stdout).toMatch(/backend webgpu/);
    const progress = rows(r.stdout);
    expect(progress.map((p) => [p.step, p.filled])).toEqual([
      [1, 8],
      [2, 16],
      [3, 16],
    ]);
    expect(progress[0].loss).toBe(0);
    for (const p of progress.slice(1)) expect(p.loss).toBeGreaterThan(0.5);
  }, 240_000);
});
