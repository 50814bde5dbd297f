import * as tf from '@tensorflow/tfjs';
import { updateMovingStatistics } from '../../moco/batchNorm';
import { lerpAssign, momentumUpdate } from '../../moco/momentum';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram, type Uniform } from './program';

const LERP = 'MocoLerp';

/** Pairs per dispatch: each takes 3 storage buffers (target, source, result) of the 8 allowed. */
const PAIRS_PER_DISPATCH = 2;

/**
 * The moving averages (momentum encoder, batch-norm statistics; src/moco/momentum.ts),
 * out_p = a·target_p + b·source_p, for one or two pairs of any sizes per dispatch. Results go to
 * new tensors that the override assigns: tfjs tensors are immutable, and a variable may share its
 * buffer with another tensor.
 */
export const movingAverage: CustomKernel = {
  name: 'MovingAverage',
  kernels: [
    {
      kernelName: LERP,
      kernelFunc: kernelFunc<'target0' | 'source0', { a: number; b: number }>(['target0', 'source0'], (bound, { a, b }, backend) => {
        const inputs: Record<string, tf.TensorInfo> = bound;
        const pairs = inputs.target1 ? 2 : 1;
        const ps = Array.from({ length: pairs }, (_, p) => p);
        const sizes = ps.map((p) => tf.util.sizeFromShape(inputs[`target${p}`].shape));
        const uniforms: Record<string, Uniform> = {};
        ps.forEach((p) => (uniforms[`size${p}`] = i32(sizes[p])));
        return runProgram(backend, {
          name: LERP,
          key: String(pairs),
          inputs: Object.fromEntries(ps.flatMap((p) => [`target${p}`, `source${p}`].map((n) => [n, inputs[n]]))),
          outputs: Object.fromEntries(ps.map((p) => [`out${p}`, inputs[`target${p}`].shape])),
          uniforms: { ...uniforms, a: f32(a), b: f32(b) },
          dispatch: gridStride(Math.max(...sizes)),
          body: () => `
            ${gridStrideLoop(`max(${ps.map((p) => `u.size${p}`).join(', ')}${pairs === 1 ? ', 0' : ''})`)} {
              ${ps.map((p) => `if (i < u.size${p}) { out${p}[i] = target${p}[i] * u.a + source${p}[i] * u.b; }`).join('\n              ')}
            }`,
        });
      }),
    },
  ],
  overrides: [
    attach(lerpAssign, (_plain, pairs, a, b) => {
      for (let i = 0; i < pairs.length; i += PAIRS_PER_DISPATCH) {
        const group = pairs.slice(i, i + PAIRS_PER_DISPATCH);
        const inputs = Object.fromEntries(group.flatMap(([target, source], p) => [[`target${p}`, target], [`source${p}`, source]]));
        const outputs = runKernel(LERP, inputs, { a, b });
        group.forEach(([target], p) => target.assign(outputs[p]));
        tf.dispose(outputs);
      }
    }),
  ],
  cases: [
    {
      // An odd number of pairs: two per dispatch.
      name: 'MovingAverage: momentum encoder (3 parameters) and moving statistics',
      program: LERP,
      run: () => {
        const shapes = [[3, 3, 3, 5], [7], [5, 11]];
        const key = new Map(shapes.map((s, i) => [`p${i}`, tf.variable(normal(s, 80 + i), false)]));
        const query = new Map(shapes.map((s, i) => [`p${i}`, tf.variable(normal(s, 90 + i), false)]));
        momentumUpdate(key, query, 0.99);
        const mean = tf.variable(normal([9], 100), false);
        const variance = tf.variable(normal([9], 101).abs(), false);
        updateMovingStatistics(mean, variance, normal([9], 102) as tf.Tensor1D, normal([9], 103).abs() as tf.Tensor1D);
        const out: Record<string, tf.Tensor> = { mean: mean.clone(), variance: variance.clone() };
        for (const [name, v] of key) out[name] = v.clone();
        tf.dispose([...key.values(), ...query.values(), mean, variance]);
        return out;
      },
    },
  ],
};
