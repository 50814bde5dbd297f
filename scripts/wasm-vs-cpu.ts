/**
 * Issue #15: does tfjs's WebAssembly backend (SIMD, threads) train our MoCo step faster than its
 * JavaScript CPU backend? Two models of the same setup, one per backend, steps alternating in one
 * process (same machine load for both); medians. Our kernels for wasm (src/kernels/wasm: the weight
 * gradient it lacks, and CropAndResize) are on, as in the trainer and the app.
 *   npx tsx scripts/wasm-vs-cpu.ts PRESET BATCH STEPS   (e.g. resnet8 32 5)
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { useCustomKernels } from '../src/kernels/registry';
import { mocoConfig } from '../src/moco/config';
import { MoCo } from '../src/moco/moco';
import type { PresetName } from '../src/moco/resnet';

const [preset = 'tiny', batchText = '8', stepsText = '3'] = process.argv.slice(2);
const batch = Number(batchText);
const steps = Number(stepsText);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const backends = ['cpu', 'wasm'] as const;
const models = new Map<string, MoCo>();
const images = new Map<string, tf.Tensor4D>();
for (const b of backends) {
  await tf.setBackend(b);
  await tf.ready();
  if (b === 'cpu') Object.assign(tf.backend(), { firstUse: false });
  useCustomKernels(true);
  models.set(b, new MoCo(mocoConfig('v2', preset as PresetName, { batchSize: batch, queueSize: 4096 })));
  images.set(b, tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D);
}
console.log(`${preset} batch ${batch}: cpu vs wasm (${getThreadsCount()} threads, SIMD ${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')}), ${steps} timed steps each after 1 warm-up, alternating`);
const times = new Map<string, number[]>(backends.map((b) => [b, []]));
for (let i = 0; i <= steps; i++) {
  for (const b of backends) {
    await tf.setBackend(b);
    const t = performance.now();
    const stats = await models.get(b)!.step(images.get(b)!);
    const ms = performance.now() - t;
    if (i > 0) times.get(b)!.push(ms);
    console.log(`${b} step ${i}${i ? '' : ' (warm-up)'}: ${ms.toFixed(0)} ms, loss ${stats.loss.toFixed(5)}`);
  }
}
const [cpu, wasm] = backends.map((b) => median(times.get(b)!));
console.log(JSON.stringify({ preset, batch, steps, cpuMs: times.get('cpu'), wasmMs: times.get('wasm'), cpuMedianMs: cpu, wasmMedianMs: wasm, wasmSpeedup: cpu / wasm, cpuImgPerS: (batch * 1000) / cpu, wasmImgPerS: (batch * 1000) / wasm }));
