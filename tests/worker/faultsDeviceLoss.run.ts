/**
 * Faults of a real WebGPU device in Node (Dawn on SwiftShader), in the Worker's service: an
 * out-of-memory reported by the device's error scope while the model is built and in the first
 * step, and the device lost twice. Run in a process of its own by faults.test.ts (Dawn reads
 * LD_LIBRARY_PATH at start-up); prints one JSON line of what it saw.
 */
/// <reference types="@webgpu/types" />
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';
import { gpuDevice } from '../../src/worker/backend';
import { TrainingService } from '../../src/worker/training';
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

await installNodeWebGpu();
const s = new TrainingService();
const backend = await s.init(() => {}, { backends: ['webgpu'], testHooks: true });

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

// Lost again at once: not recovered by itself; the fallback on request.
await s.destroyGpuDevice();
await new Promise((r) => setTimeout(r, 100));
const secondLoss = s.status();
const secondRecovery = await s.deviceRecovered();
const fallback = await s.continueOnCpu();
const afterFallback = await s.step();

console.log(
  JSON.stringify({
    backend,
    buildOom,
    stepOom,
    stateAfterStepOom,
    afterOom: { step: afterOom.step, loss: afterOom.loss },
    before,
    recovery,
    afterRecovery: { step: afterRecovery.step, loss: afterRecovery.loss },
    statusAfterRecovery: { state: statusAfterRecovery.state, error: statusAfterRecovery.error, gpuLost: statusAfterRecovery.gpuLost },
    secondLoss: { state: secondLoss.state, gpuLost: secondLoss.gpuLost, recoveryId: secondLoss.deviceRecovery?.id },
    secondRecovery,
    fallback: fallback.backend,
    afterFallback: { step: afterFallback.step, loss: afterFallback.loss },
  }),
);
s.dispose();
process.exit(0);
