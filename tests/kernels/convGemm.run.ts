/**
 * The wide-tile GEMM of convGemm.ts on Dawn (SwiftShader) with both operands read from one tensor,
 * as vec4s: X·Xᵀ against tfjs's matMul. Run in a process of its own by convGemm.test.ts (Dawn reads
 * LD_LIBRARY_PATH at start-up); prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs';
import { runGemm, withGemmWideTiles, type GemmSpec } from '../../src/kernels/webgpu/convGemm';
import { installNodeWebGpu } from '../../src/util/nodeWebgpu';

await installNodeWebGpu();
await tf.setBackend('webgpu');
// 36 rows (a whole and a partial tile side), 20 long (a multiple of 4: vec4 loads along k).
const [M, K] = [36, 20];
const x = tf.randomNormal([M, K], 0, 1, 'float32', 3) as tf.Tensor2D;
const gram = (vec4A: boolean, vec4B: boolean): GemmSpec => ({
  name: 'TestGram',
  M,
  N: M,
  K,
  splitK: false,
  outputShape: [M, M],
  inputs: { x },
  uniforms: {},
  indexing: `
      fn row(m : i32, k : i32) -> i32 { return m * u.K + k; }
      fn column(k : i32, n : i32) -> i32 { return n * u.K + k; }`,
  a: { buffer: 'x', index: 'row', contiguous: 'k', vec4: vec4A },
  b: { buffer: 'x', index: 'column', contiguous: 'k', vec4: vec4B },
});
const run = (spec: GemmSpec) => tf.engine().makeTensorFromTensorInfo(withGemmWideTiles(true, () => runGemm(tf.backend(), spec))());
const expected = tf.matMul(x, x, false, true);
const result: Record<string, number | string> = { backend: tf.getBackend() };
for (const [name, a, b] of [['vec4', true, true], ['scalar', false, false]] as const) {
  const out = run(gram(a, b));
  result[name] = (await tf.max(tf.abs(tf.sub(out, expected))).data())[0];
}
try {
  run(gram(true, false));
  result.mixed = 'ran';
} catch (e) {
  result.mixed = (e as Error).message;
}
console.log(JSON.stringify(result));
