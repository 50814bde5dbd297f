/**
 * A lost WebGPU device in Node (Dawn on SwiftShader), recovered by the service by itself. Run in a
 * process of its own by faults.test.ts (Dawn reads LD_LIBRARY_PATH at start-up); prints one JSON line.
 */
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';
import { TrainingService } from '../../src/worker/training';
import { TINY_SETUP } from './setup';

await installNodeWebGpu();
const s = new TrainingService();
const backend = await s.init(() => {}, { backends: ['webgpu'], testHooks: true });
await s.configure(TINY_SETUP);
s.keepRestorePoints(0);
const before: number[] = [];
for (let i = 0; i < 3; i++) before.push((await s.step()).loss);
await s.destroyGpuDevice();
const recovery = await s.deviceRecovered();
const after = await s.step();
console.log(JSON.stringify({ backend, before, recovery, after: { step: after.step, loss: after.loss }, status: s.status() }));
s.dispose();
process.exit(0);
