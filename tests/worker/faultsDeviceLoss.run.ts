/**
 * Faults of a real WebGPU device in Node (Dawn on SwiftShader), in the Worker's service: setups
 * beyond the device's limits refused before allocating, an out-of-memory reported by the device's
 * error scope while the model is built and in the first step, errors no error scope catches, and
 * the device lost twice. Run in a process of its own by faults.test.ts (Dawn reads
 * LD_LIBRARY_PATH at start-up); prints one JSON line of what it saw.
 */
/// <reference types="@webgpu/types" />
import { customKernelSettings, useCustomKernels } from '../../src/kernels/registry';
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';
import { gpuDevice } from '../../src/worker/backend';
import { TrainingService } from '../../src/worker/training';
import type { RunStatus } from '../../src/worker/types';
import { TINY_SETUP } from './setup';

/** The device's next error scope pops an out-of-memory error, as Dawn reports a failed allocation. */
function outOfMemoryOnNextScope(message: string): void {
  const device = gpuDevice()!;
  const pop = device.popErrorScope.bind(device);
  device.popErrorScope = async () => {
    device.popErrorScope = pop;
    await pop();
    return new GPUOutOfMemoryError(message);
  };
}

async function rejection(p: Promise<unknown>): Promise<string | null> {
  return p.then(
    () => null,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
}

/** Errors no error scope catches, as a bug in a kernel would cause: a write past a buffer's end, a buffer with no usage. */
async function uncapturedErrors(): Promise<void> {
  const device = gpuDevice()!;
  const small = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(small, 64, new Float32Array(4));
  device.createBuffer({ size: 16, usage: 0 });
  await device.queue.onSubmittedWorkDone();
  small.destroy();
  // The events arrive as tasks of their own.
  await new Promise((r) => setTimeout(r, 200));
}

await installNodeWebGpu();
const s = new TrainingService();
let lastStatus: RunStatus | null = null;
/** The training loop's steps streamed while `collecting` (no call returns them). */
let collecting = false;
const streamed: { step: number; loss: number }[] = [];
const backend = await s.init(
  (b) => {
    lastStatus = b.status;
    // The loop's steps (a restored run's history arrives first, in batches sent while not running).
    if (collecting && b.status.state === 'running') for (let i = 0; i < b.count; i++) streamed.push({ step: b.columns.step[i], loss: b.columns.loss[i] });
  },
  { backends: ['webgpu'], testHooks: true },
);
const limits = { maxStorageBufferBindingSize: gpuDevice()!.limits.maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: gpuDevice()!.limits.maxComputeWorkgroupsPerDimension };

// Setups beyond this device's limits, refused before anything is allocated: the run in use stays.
await s.configure(TINY_SETUP);
await s.step();
const big = { ...TINY_SETUP, batchSize: 8192, datasetSize: 8192, params: { ...TINY_SETUP.params, queueSize: 65_536 } };
const tooLargeBuffer = await rejection(s.configure(big));
const kernels = customKernelSettings();
useCustomKernels(true, { include: ['Conv2DBackpropInput'] });
const tooManyWorkgroups = await rejection(s.configure({ ...TINY_SETUP, batchSize: 4096, datasetSize: 4096 }));
useCustomKernels(kernels.on, kernels);
const afterRefusals = { status: { step: s.status().step, state: s.status().state, runId: s.status().runId }, loss: (await s.step()).loss };
// A queue too large for the batch in use, refused as the slider moves; the queue stays.
await s.configure({ ...TINY_SETUP, batchSize: 4096, datasetSize: 4096 });
const tooLargeQueue = await rejection(s.setParams({ queueSize: 65_536 }));
const queueAfterRefusal = (await s.currentSetup())!.params.queueSize;

// Out of memory while building a batch of 16, then in the first step: messages, and the run stays usable.
outOfMemoryOnNextScope('Allocation of 1073741824 bytes failed (out of memory)');
const buildOom = await rejection(s.configure({ ...TINY_SETUP, batchSize: 16 }));
await s.configure(TINY_SETUP);
outOfMemoryOnNextScope('Allocation of 536870912 bytes failed (out of memory)');
const stepOom = await rejection(s.step());
const stateAfterStepOom = s.status().state;
await s.reset();
const afterOom = await s.step();

// The device lost: recovered by itself, WebGPU again, from the last state kept.
await s.reset();
s.keepRestorePoints(0);
const before: number[] = [];
for (let i = 0; i < 3; i++) before.push((await s.step()).loss);
await s.destroyGpuDevice();
const recovery = await s.deviceRecovered();
const afterRecovery = await s.step();
const statusAfterRecovery = s.status();

// Errors no error scope catches, on the new device that stays: said, and training goes on.
await uncapturedErrors();
const gpuError = s.status().gpuError;
const batchGpuError = lastStatus!.gpuError;
const afterGpuError = await s.step();
const stateAfterGpuError = s.status().state;

// Lost again at once: not recovered by itself; the fallback on request.
await s.destroyGpuDevice();
await new Promise((r) => setTimeout(r, 100));
const secondLoss = s.status();
const secondRecovery = await s.deviceRecovered();
// The fallback clicked twice, with Start clicked at once: one restore, which the Start waits for and trains.
collecting = true;
const runIdBeforeFallback = s.status().runId;
const [fallback, fallbackAgain] = await Promise.all([s.continueOnCpu(), s.continueOnCpu(), s.start()]);
const stateAfterFallbackStart = s.status().state;
const fallbackRuns = s.status().runId - runIdBeforeFallback;
for (let waited = 0; streamed.length === 0 && waited < 60_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
await s.pause();
collecting = false;
const afterFallback = streamed[0] ?? null;

console.log(
  JSON.stringify({
    backend,
    limits,
    tooLargeBuffer,
    tooManyWorkgroups,
    afterRefusals,
    tooLargeQueue,
    queueAfterRefusal,
    buildOom,
    stepOom,
    stateAfterStepOom,
    afterOom: { step: afterOom.step, loss: afterOom.loss },
    before,
    recovery,
    afterRecovery: { step: afterRecovery.step, loss: afterRecovery.loss },
    statusAfterRecovery: { state: statusAfterRecovery.state, error: statusAfterRecovery.error, gpuLost: statusAfterRecovery.gpuLost },
    gpuError,
    batchGpuError,
    afterGpuError: { step: afterGpuError.step, loss: afterGpuError.loss },
    stateAfterGpuError,
    secondLoss: { state: secondLoss.state, gpuLost: secondLoss.gpuLost, recoveryId: secondLoss.deviceRecovery?.id },
    secondRecovery,
    fallback: fallback.backend,
    fallbackRuns,
    fallbackJoined: fallbackAgain === fallback,
    stateAfterFallbackStart,
    afterFallback,
  }),
);
s.dispose();
process.exit(0);
