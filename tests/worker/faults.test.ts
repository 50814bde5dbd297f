import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IMAGE_BYTES } from '../../src/data/dataset';
import { DEVICE_RECOVERY_LIMIT, deviceLossFallback, mayRecoverAutomatically } from '../../src/worker/backend';
import { loadUserFiles } from '../../src/worker/datasets';
import type { DataFile, GpuErrorWarning, StatsBatch } from '../../src/worker/types';
import { TrainingService } from '../../src/worker/training';
import { TrainingData } from '../../src/worker/trainingData';
import { runOnDawn } from '../support/helpers';
import { cifarBytes, dataFile } from '../support/dataFixtures';
import { MemoryRunStore } from '../support/memoryRunStore';
import { TINY_SETUP } from './setup';

async function service(): Promise<{ service: TrainingService; batches: StatsBatch[] }> {
  const batches: StatsBatch[] = [];
  const s = new TrainingService();
  // WebAssembly: the app's backend without a GPU, a tenth of the JavaScript CPU backend's time; what
  // is tested here does not depend on the backend.
  await s.init((b) => batches.push(b), { backends: ['wasm'] });
  await s.configure(TINY_SETUP);
  return { service: s, batches };
}

async function losses(s: TrainingService, steps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await s.step()).loss);
  return out;
}

const waitFor = async (done: () => boolean) => {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
};

/** The Worker's guard against a run gone wrong, on the WebAssembly backend: every step is checked. */
describe('TrainingService when training goes wrong', () => {
  const services: TrainingService[] = [];
  afterAll(() => services.forEach((s) => s.dispose()));

  it('leaves no tensor behind when reading the weights\' NaN count back fails, and exports once the read-back works', async () => {
    const { service: s } = await service();
    services.push(s);
    await s.step();
    const before = tf.memory().numTensors;
    const readBack = vi.spyOn(tf.Tensor.prototype, 'data').mockRejectedValueOnce(new Error('the GPU device was lost'));
    try {
      await expect(s.exportWeights({ includeKey: true })).rejects.toThrow('the GPU device was lost');
    } finally {
      readBack.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect((await s.exportWeights({ includeKey: false })).zip.byteLength).toBeGreaterThan(0);
  });

  it('stops at a NaN step, refuses to train on or to export it, and restores the last good state exactly', async () => {
    const { service: reference } = await service();
    services.push(reference);
    const expected = await losses(reference, 5);

    const { service: s, batches } = await service();
    services.push(s);
    const store = new MemoryRunStore();
    s.useRunStore(store);
    s.keepRestorePoints(0);
    await losses(s, 3);
    await waitFor(() => s.status().save?.step === 3);
    await s.setParams({ learningRate: 1e30 });
    // Step 4's loss is computed before its update, which breaks the weights: step 5's loss is NaN.
    // The state after step 4 (saved meanwhile) is no good state; step 3's is.
    await losses(s, 1);
    await waitFor(() => s.status().save?.step === 4);
    await expect(s.step()).rejects.toThrow(/^Training stopped: the loss became NaN at step 5/);
    const status = s.status();
    expect(status.diverged).toMatchObject({ kind: 'non-finite', step: 5, restoreStep: 3 });
    expect(status.diverged!.message).toMatch(/loss became NaN at step 5 with learning rate 1\.00e\+30 .* lower the Learning rate slider \(the default here is 9\.37e-4\)/);
    expect(status.error).toBe(status.diverged!.message);
    expect(batches.at(-1)!.status.diverged?.step).toBe(5);
    // The page's chart gets the bad step with a contrastive accuracy of 0, not the 100% a NaN row gave.
    const last = batches.flatMap((b) => Array.from(b.columns.contrastiveAccuracy)).at(-1);
    expect(last).toBe(0);

    await expect(s.start()).rejects.toThrow(/training stopped at step 5 .* restore the last good state \(step 3\) or Reset first/);
    await expect(s.step()).rejects.toThrow(/restore the last good state/);
    await expect(s.exportWeights({ includeKey: false })).rejects.toThrow(/the weights hold [\d,]+ NaN or infinite values of [\d,]+ .*restore the last good state or Reset, then download them/);
    await expect(s.checkpoint()).rejects.toThrow(/NaN or infinite values/);
    // The save of step 4 held the broken state: the good state of step 3 replaces it in the store.
    await waitFor(() => s.status().save?.step === 3);
    expect((await s.savedRuns()).map((r) => r.step)).toEqual([3]);
    expect(s.status().save).toMatchObject({ step: 3, error: null });

    // The knob first, then restore: the sliders' values stay; the good state of step 3 comes back.
    await s.setParams({ learningRate: TINY_SETUP.params.learningRate });
    await s.restoreGoodState();
    expect(s.status()).toMatchObject({ step: 3, state: 'paused', error: null, diverged: null });
    expect((await s.currentSetup())!.params.learningRate).toBe(TINY_SETUP.params.learningRate);
    // The same steps 4 and 5 as a run that never went wrong.
    const [fourth, fifth] = await losses(s, 2);
    expect(Math.abs(fourth - expected[3])).toBeLessThan(1e-6);
    expect(Math.abs(fifth - expected[4])).toBeLessThan(1e-6);
    expect((await s.exportWeights({ includeKey: true })).zip.byteLength).toBeGreaterThan(0);
  });

  it('keeps in-memory restore points only until the run is saved: then each save is the restore point, with no second read of the model', async () => {
    const { service: s } = await service();
    services.push(s);
    s.keepRestorePoints(0);
    const encodes = vi.spyOn(s as unknown as { encodeRun(): Promise<Uint8Array> }, 'encodeRun');
    // No saves: the state before each step is kept in memory.
    await losses(s, 2);
    expect(encodes).toHaveBeenCalledTimes(2);
    s.useRunStore(new MemoryRunStore());
    // Not saved yet: step 3 keeps its state in memory, then the run is saved.
    await losses(s, 1);
    await waitFor(() => s.status().save?.step === 3);
    expect(encodes).toHaveBeenCalledTimes(4);
    // Saved: the save alone.
    await losses(s, 2);
    await waitFor(() => s.status().save?.step === 5);
    expect(encodes).toHaveBeenCalledTimes(6);
  });

  it('keeps no second copy of the model once the run moves on: the bytes kept for the next read go with the next step, and with a resume', async () => {
    const { service: s } = await service();
    services.push(s);
    // No in-memory restore points and no saves: only what this test asks for holds checkpoint bytes.
    s.keepRestorePoints(Number.POSITIVE_INFINITY);
    const held = () => (s as unknown as { lastEncoded: { bytes: Uint8Array } | null }).lastEncoded?.bytes ?? null;
    await losses(s, 1);
    expect(held()).toBeNull();
    // A download: the bytes are kept while the run is as it was, so that holding it aside reads the model no more.
    const bytes = await s.checkpoint();
    expect(held()).toBe(bytes);
    expect(await s.checkpoint()).toBe(bytes);
    // The next step changes the run: nothing holds that copy any more.
    await losses(s, 1);
    expect(held()).toBeNull();
    // A resumed run keeps its bytes as the restore point only.
    const later = await s.checkpoint();
    expect(held()).toBe(later);
    await s.resume(bytes, 'step1.zip');
    expect(held()).toBeNull();
    expect(s.status().step).toBe(1);
  });

  it('stops at a NaN with no good state kept yet, and restores a fresh model of the setup', async () => {
    const { service: s } = await service();
    services.push(s);
    const [first] = await losses(s, 2);
    await s.setParams({ learningRate: 1e30 });
    // Training in a loop this time: step 3's update breaks the weights, step 4's loss is NaN, and the
    // loop stops by itself. No restore point is taken in the first steps: the good state is step 0's.
    await s.start();
    await waitFor(() => s.status().state === 'error');
    expect(s.status().diverged).toMatchObject({ kind: 'non-finite', step: 4, restoreStep: 0 });
    expect(s.status().error).toMatch(/^Training stopped: the loss became NaN at step 4 .*Restore the last good state \(step 0\)/);
    await s.restoreGoodState();
    // The live parameters stay as the sliders have them, until the user changes them.
    expect((await s.currentSetup())!.params.learningRate).toBe(1e30);
    await s.setParams({ learningRate: TINY_SETUP.params.learningRate });
    expect(s.status()).toMatchObject({ step: 0, diverged: null, error: null });
    // A fresh model of the same setup: the first step's loss again.
    const [again] = await losses(s, 1);
    expect(Math.abs(again - first)).toBeLessThan(1e-6);
    await expect(s.restoreGoodState()).rejects.toThrow(/nothing to restore/);
  });

  it('warns at a finite blown-up loss (a tiny temperature) and trains on; the warning ends with the stretch, and its states are no restore point', async () => {
    const { service: s, batches } = await service();
    services.push(s);
    s.keepRestorePoints(0);
    // A guess among K + 1 = 33 keys has a loss of ln 33 = 3.50; the warning begins above 3 × ln 33.
    const threshold = 3 * Math.log(33);
    await losses(s, 2);
    await s.setParams({ temperature: 1e-4 });
    const [third, fourth, fifth] = await losses(s, 3);
    expect(third).toBeLessThan(threshold);
    for (const loss of [fourth, fifth]) {
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeGreaterThan(threshold);
    }
    // Training went on: no error, nothing stopped, a warning with the stretch so far.
    const status = s.status();
    expect(status).toMatchObject({ state: 'paused', step: 5, error: null, diverged: null, lossWarning: { kind: 'blow-up', fromStep: 4, step: 5, steps: 2 } });
    expect(status.lossWarning!.message).toMatch(
      /^The loss is [\d.e+]+ at step 5 with learning rate 0\.03 and temperature 1\.00e-4, far above ln\(K\+1\) = 3\.50 \(a guess among 33 keys\): the temperature is too small \(the logits are similarities divided by it\) — raise the Temperature T slider \(MoCo uses 0\.07 to 0\.2\)\. Training goes on; this warning ends by itself at the first step whose loss is back below 10\.49 \(3 × ln\(K\+1\)\)\.$/,
    );
    expect(batches.at(-1)!.status.lossWarning?.step).toBe(5);
    expect((await s.exportWeights({ includeKey: false })).zip.byteLength).toBeGreaterThan(0);

    // Now a huge learning rate: step 6 (blown up, warned) breaks the weights, step 7 is NaN and stops.
    // The last good state is step 2's: the states after steps 3 to 5 gave blown-up losses.
    await s.setParams({ learningRate: 1e30 });
    expect(await s.step().then((r) => r.loss > threshold)).toBe(true);
    await expect(s.step()).rejects.toThrow(/^Training stopped: the loss became (NaN|Infinity) at step 7 /);
    expect(s.status()).toMatchObject({ state: 'error', lossWarning: null, diverged: { kind: 'non-finite', step: 7, restoreStep: 2 } });
    await s.setParams({ learningRate: TINY_SETUP.params.learningRate });
    await s.restoreGoodState();
    expect(s.status()).toMatchObject({ step: 2, diverged: null, lossWarning: null });
    expect((await s.currentSetup())!.params.temperature).toBe(1e-4);

    // Training in a loop from step 2 again: the same steps, warned at 4 to 6 while running, and the
    // warning ends by itself at step 7, whose loss is back below the threshold (the temperature is still tiny).
    await s.start();
    await waitFor(() => s.status().step >= 7);
    await s.pause();
    const seen = batches.map((b) => b.status).filter((st) => st.state === 'running');
    expect(seen.find((st) => st.lossWarning)?.lossWarning).toMatchObject({ fromStep: 4, step: 4, steps: 1 });
    expect(seen.filter((st) => st.step === 7).at(-1)?.lossWarning).toBeNull();
    const losses7 = batches.flatMap((b) => Array.from(b.columns.loss)).slice(-(s.status().step - 2));
    expect(Math.abs(losses7[0] - third)).toBeLessThan(1e-4);
    expect(losses7[4]).toBeLessThan(threshold);
    expect(s.status()).toMatchObject({ state: 'paused', error: null, diverged: null });
    expect(s.status().step).toBeGreaterThanOrEqual(7);
  });

  /** A run stopped at a NaN loss at step 3 (step 2's update, at a learning rate of 1e30, broke the weights); step 1's state is the good one. */
  const divergedAtStep3 = async () => {
    const { service: s, batches } = await service();
    services.push(s);
    s.keepRestorePoints(0);
    await losses(s, 1);
    await s.setParams({ learningRate: 1e30 });
    await losses(s, 1);
    await expect(s.step()).rejects.toThrow(/^Training stopped: the loss became NaN at step 3/);
    return { s, batches };
  };

  it('restores once when Restore is clicked twice: the second click joins the first', async () => {
    const { s, batches } = await divergedAtStep3();
    const runId = s.status().runId;
    const before = batches.length;
    const [first, second] = await Promise.all([s.restoreGoodState(), s.restoreGoodState()]);
    // One restore: one new run, whose history the page hears once.
    expect(s.status()).toMatchObject({ runId: runId + 1, step: 1, diverged: null, error: null });
    expect(batches.slice(before).filter((b) => b.count > 0).map((b) => b.status.runId)).toEqual([runId + 1]);
    expect(second).toBe(first);
  });

  it('a Pause clicked after Start while the good state is restored wins: the restored run waits, paused; a Start after the Pause trains it', async () => {
    const { s } = await divergedAtStep3();
    await s.setParams({ learningRate: TINY_SETUP.params.learningRate });
    await Promise.all([s.restoreGoodState(), s.start(), s.pause()]);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.status()).toMatchObject({ state: 'paused', step: 1, diverged: null });
    // The last click wins: Pause, then Start, while another restore puts the run in place.
    await Promise.all([s.reset(), s.pause(), s.start()]);
    expect(s.status().state).toBe('running');
    await s.pause();
  });
});

describe('the Data panel summary', () => {
  it('carries the loader\'s warnings: a folder with one class trains, and says what kNN and the probe need', async () => {
    const files: DataFile[] = Array.from({ length: 12 }, (_, i) => ({ path: `pets/cats/${i}.png`, file: new Blob([new Uint8Array(8)]) }));
    const loaded = await loadUserFiles(files, { labels: 'fine', decode: async () => new Uint8Array(IMAGE_BYTES).fill(100) });
    const data = new TrainingData();
    data.useFiles(loaded);
    data.trainFor({ ...TINY_SETUP, dataset: 'files' });
    const info = data.info()!;
    expect(info.classNames).toEqual(['cats']);
    expect(info.warnings).toEqual(['pets: one class only (cats): MoCo trains without labels, but kNN and probe accuracy need two classes or more']);
    // The built-in dataset has none.
    data.trainFor(TINY_SETUP);
    expect(data.info()!.warnings).toEqual([]);
  });

  it('warns about CIFAR files whose images are all of one label, in the CLI\'s words', async () => {
    const oneLabel = cifarBytes(Array.from({ length: 20 }, () => [3]));
    const loaded = await loadUserFiles([dataFile('data_batch_1.bin', oneLabel)], { labels: 'fine' });
    const data = new TrainingData();
    data.useFiles(loaded);
    data.trainFor({ ...TINY_SETUP, dataset: 'files' });
    expect(data.info()!.warnings).toEqual(['data_batch_1.bin: one class only (cat): MoCo trains without labels, but kNN and probe accuracy need two classes or more']);
    // Training batches of one label beside a test batch of others: the training images are what counts.
    const both = await loadUserFiles([dataFile('data_batch_1.bin', oneLabel), dataFile('test_batch.bin', cifarBytes([[1], [2]]))], { labels: 'fine' });
    expect(both.warnings).toEqual(['data_batch_1.bin + 1 more: one class only (cat): MoCo trains without labels, but kNN and probe accuracy need two classes or more']);
    const two = await loadUserFiles([dataFile('data_batch_1.bin', cifarBytes(Array.from({ length: 20 }, (_, i) => [i % 2])))], { labels: 'fine' });
    expect(two.warnings).toEqual([]);
  });
});

describe('after a lost GPU device', () => {
  it('recovers by itself once in two minutes: a GPU that keeps failing leaves the choice to the user', () => {
    expect(DEVICE_RECOVERY_LIMIT).toEqual({ max: 1, windowMs: 120_000 });
    expect(mayRecoverAutomatically([], 1_000)).toBe(true);
    // Lost again 35 s after a recovery: not by itself.
    expect(mayRecoverAutomatically([10_000], 45_000)).toBe(false);
    // Two minutes on, the earlier recovery no longer counts.
    expect(mayRecoverAutomatically([10_000], 130_000)).toBe(true);
    expect(mayRecoverAutomatically([10_000, 200_000], 250_000, { max: 2, windowMs: 300_000 })).toBe(false);
    expect(mayRecoverAutomatically([10_000, 200_000], 320_000, { max: 2, windowMs: 300_000 })).toBe(true);
  });

  it('falls back off the GPU: WebAssembly, then the CPU (never WebGL, which shares the GPU that failed), in the order the page asked for', () => {
    expect(deviceLossFallback()).toEqual(['wasm', 'cpu']);
    expect(deviceLossFallback(['webgpu', 'webgl', 'cpu'])).toEqual(['cpu']);
    // `?backend=webgpu`: nothing off the GPU was asked for; the CPU still is.
    expect(deviceLossFallback(['webgpu'])).toEqual(['cpu']);
    expect(deviceLossFallback(['webgl'])).toEqual(['cpu']);
  });
});

interface DawnFaults {
  backend: { backend: string };
  limits: { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension: number };
  tooLargeBuffer: string | null;
  tooManyWorkgroups: string | null;
  afterRefusals: { status: { step: number; state: string; runId: number }; loss: number };
  tooLargeQueue: string | null;
  queueAfterRefusal: number;
  buildOom: string | null;
  stepOom: string | null;
  stateAfterStepOom: string;
  afterOom: { step: number; loss: number };
  before: number[];
  recovery: { id: number; phase: string; lost: string; lostAtStep: number; fromStep: number; backend: { backend: string; fallbackReason: string | null }; resumed: boolean };
  afterRecovery: { step: number; loss: number };
  statusAfterRecovery: { state: string; error: string | null; gpuLost: string | null };
  gpuError: GpuErrorWarning | null;
  batchGpuError: GpuErrorWarning | null;
  afterGpuError: { step: number; loss: number };
  stateAfterGpuError: string;
  secondLoss: { state: string; gpuLost: string | null; recoveryId: number };
  fallback: { backend: string; fallbackReason: string };
  fallbackRuns: number;
  fallbackJoined: boolean;
  stateAfterFallbackStart: string;
  afterFallback: { step: number; loss: number };
}

/** The service on a real WebGPU device (Dawn in Node): faultsDeviceLoss.run.ts in a process of its own. */
describe('TrainingService on WebGPU (Dawn on SwiftShader) when the GPU fails', () => {
  let seen: DawnFaults;
  beforeAll(async () => {
    seen = await runOnDawn<DawnFaults>('tests/worker/faultsDeviceLoss.run.ts', [], 590_000);
    expect(seen.backend.backend).toBe('webgpu');
  }, 600_000);

  it("refuses a setup beyond the device's limits before allocating, naming the option and the limit; the run in use stays and trains on", () => {
    // SwiftShader's adapter, whose largest buffers the app's device asks for (src/util/webgpuDevice.ts).
    expect(seen.limits).toEqual({ maxStorageBufferBindingSize: 1_073_741_824, maxComputeWorkgroupsPerDimension: 65_535 });
    expect(seen.tooLargeBuffer).toBe(
      "the logits (batch 8,192 × 65,537: the positive and K = 65,536 negatives) need a buffer of 2,148 MB (2,147,516,416 bytes), above this GPU's maxStorageBufferBindingSize of 1,074 MB (1,073,741,824 bytes): choose a batch of at most 2,048, or lower the Queue size K to at most 32,767",
    );
    expect(seen.tooManyWorkgroups).toBe(
      "the input gradient's GEMM (batch 4,096 × 32×32 pixels, 64 per workgroup) need 65,536 workgroups in one dimension of a dispatch, above this GPU's maxComputeWorkgroupsPerDimension of 65,535: choose a batch of at most 2,048, or leave the Conv2DBackpropInput kernel off",
    );
    // The tiny run of one step is as it was: its second step is the one any run of the setup takes.
    expect(seen.afterRefusals.status).toEqual({ step: 1, state: 'paused', runId: 1 });
    expect(seen.afterRefusals.loss).toBe(seen.before[1]);
    // The Queue size slider past what a batch of 4,096 can hold: refused, the queue stays.
    expect(seen.tooLargeQueue).toBe(
      "the logits (batch 4,096 × 65,537: the positive and K = 65,536 negatives) need a buffer of 1,074 MB (1,073,758,208 bytes), above this GPU's maxStorageBufferBindingSize of 1,074 MB (1,073,741,824 bytes): choose a batch of at most 2,048, or lower the Queue size K to at most 65,535",
    );
    expect(seen.queueAfterRefusal).toBe(32);
  });

  it('an out-of-memory in the error scope names what to make smaller, and the run stays usable', () => {
    expect(seen.buildOom).toBe(
      'the GPU ran out of memory building the model and the queue (preset tiny, batch 16, Queue size K 32; the browser said: Allocation of 1073741824 bytes failed (out of memory)): choose a smaller batch, preset or queue, then Reset',
    );
    expect(seen.stepOom).toBe(
      'the GPU ran out of memory in the first step (preset tiny, batch 8, Queue size K 32; the browser said: Allocation of 536870912 bytes failed (out of memory)): choose a smaller batch, preset or queue, then Reset',
    );
    expect(seen.stateAfterStepOom).toBe('error');
    // A smaller batch builds, and after Reset the first step trains (an empty queue: a loss of 0, finite).
    expect(seen.afterOom).toEqual({ step: 1, loss: 0 });
  });

  it('a lost device: WebGPU again on a new device, from the last state kept, the same step again', () => {
    expect(seen.recovery).toMatchObject({ id: 1, phase: 'done', lost: 'destroyed: device was destroyed', lostAtStep: 3, fromStep: 2, resumed: false });
    expect(seen.recovery.backend).toMatchObject({ backend: 'webgpu', fallbackReason: null });
    expect(seen.statusAfterRecovery).toEqual({ state: 'paused', error: null, gpuLost: null });
    // Step 3 again, from the state before it, on the new device with the same kernels: the same loss.
    expect(seen.afterRecovery.step).toBe(3);
    expect(seen.afterRecovery.loss).toBe(seen.before[2]);
    expect(Number.isFinite(seen.afterRecovery.loss)).toBe(true);
  });

  it('GPU errors no error scope caught, on a device that stays: said with the step and what to do, and training goes on', () => {
    const expected = {
      firstStep: 3,
      step: 3,
      count: 2,
      error: 'Buffer usages must not be 0',
      message:
        'The GPU reported 2 errors that no check caught, at step 3; the latest: Buffer usages must not be 0. The GPU skipped the commands that failed, so the steps around it may be wrong. Training goes on (a loss that turns NaN still stops it, with the last good state to restore); if the errors repeat, Restart the worker: it goes on from the last save.',
    };
    expect(seen.gpuError).toEqual(expected);
    // The page heard it at once, in a batch of its own.
    expect(seen.batchGpuError).toEqual(expected);
    expect(seen.stateAfterGpuError).toBe('paused');
    expect(seen.afterGpuError.step).toBe(4);
    expect(Number.isFinite(seen.afterGpuError.loss)).toBe(true);
  });

  it('lost again at once: training stops, says why (with the GPU error before it) and offers the fallback, which trains on the CPU (clicked twice: one restore; Start clicked meanwhile trains the run restored)', () => {
    expect(seen.secondLoss.state).toBe('error');
    expect(seen.secondLoss.recoveryId).toBe(1);
    expect(seen.secondLoss.gpuLost).toMatch(
      /^The GPU device was destroyed: device was destroyed \(the GPU's last error before: Buffer usages must not be 0\), again \d+ s after the last recovery: a GPU that keeps failing is not recovered by itself\. Training stopped at step 4\. Continue without the GPU \(on the CPU\) from the last good state \(step 3\), or Restart the worker to try WebGPU again from the last save\.$/,
    );
    expect(seen.fallback).toEqual({ backend: 'cpu', fallbackReason: 'the GPU device was lost; continued without it', adapter: null, detail: null });
    // The second click joined the first: one run restored, not two.
    expect(seen.fallbackRuns).toBe(1);
    expect(seen.fallbackJoined).toBe(true);
    // Start, clicked while the fallback was put in place, waited for it: training runs, and its first
    // step is step 4 again from the state after step 3, on the CPU, with the loss step 4 had on the GPU.
    expect(seen.stateAfterFallbackStart).toBe('running');
    expect(seen.afterFallback.step).toBe(4);
    expect(Math.abs(seen.afterFallback.loss - seen.afterGpuError.loss)).toBeLessThan(1e-4);
  });
});
