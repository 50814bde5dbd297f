import * as tf from '@tensorflow/tfjs';
import { gridStride, gridStrideLoop, runProgram } from './program';

/**
 * Parameter updates in one dispatch each, instead of one element-wise kernel per arithmetic
 * operation (6 per parameter for SGD with momentum and weight decay, 3 per parameter for a moving
 * average). Results go to new tensors, which the caller assigns to its variables: tfjs tensors are
 * immutable, and a variable may share its buffer with another tensor.
 */

export const SGD_KERNEL = 'MocoSgdMomentum';
export const LERP_KERNEL = 'MocoLerp';

/** Moving-average pairs per dispatch: each takes 3 storage buffers (target, source, result) of the 8 allowed. */
export const LERP_PAIRS_PER_DISPATCH = 2;

/**
 * PyTorch's SGD step for one parameter: g = ∇ + λθ; v ← μv + g; θ ← θ − lr·v.
 * Inputs theta, velocity, grad; attrs learningRate, momentum, weightDecay; outputs [θ', v'].
 */
export const sgdMomentumKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { theta, velocity, grad } = inputs as { theta: tf.TensorInfo; velocity: tf.TensorInfo; grad: tf.TensorInfo };
  const { learningRate, momentum, weightDecay } = attrs as unknown as { learningRate: number; momentum: number; weightDecay: number };
  const size = tf.util.sizeFromShape(theta.shape);
  return runProgram(backend, {
    name: SGD_KERNEL,
    key: '',
    outputs: [
      { name: 'thetaOut', shape: theta.shape },
      { name: 'velocityOut', shape: theta.shape },
    ],
    inputs: [
      { name: 'theta', tensor: theta },
      { name: 'velocity', tensor: velocity },
      { name: 'grad', tensor: grad },
    ],
    uniforms: [
      { name: 'size', type: 'i32', value: size },
      { name: 'lr', type: 'f32', value: learningRate },
      { name: 'momentum', type: 'f32', value: momentum },
      { name: 'decay', type: 'f32', value: weightDecay },
    ],
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(size),
    body: () => `
      ${gridStrideLoop('u.size')} {
        let t = theta[i];
        let v = velocity[i] * u.momentum + (grad[i] + t * u.decay);
        velocityOut[i] = v;
        thetaOut[i] = t - v * u.lr;
      }`,
  });
};

/**
 * out_p = a·target_p + b·source_p for one or two (target, source) pairs of any sizes, in one
 * dispatch. Inputs target0, source0[, target1, source1]; attrs a, b; outputs [out0[, out1]].
 */
export const lerpKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const named = inputs as Record<string, tf.TensorInfo>;
  const { a, b } = attrs as unknown as { a: number; b: number };
  const pairs = named.target1 ? 2 : 1;
  const sizes = Array.from({ length: pairs }, (_, p) => tf.util.sizeFromShape(named[`target${p}`].shape));
  return runProgram(backend, {
    name: LERP_KERNEL,
    key: String(pairs),
    outputs: sizes.map((_, p) => ({ name: `out${p}`, shape: named[`target${p}`].shape })),
    inputs: sizes.flatMap((_, p) => [
      { name: `target${p}`, tensor: named[`target${p}`] },
      { name: `source${p}`, tensor: named[`source${p}`] },
    ]),
    uniforms: [
      ...sizes.map((s, p) => ({ name: `size${p}`, type: 'i32' as const, value: s })),
      { name: 'a', type: 'f32', value: a },
      { name: 'b', type: 'f32', value: b },
    ],
    workgroupSize: [256, 1, 1],
    dispatch: gridStride(Math.max(...sizes)),
    body: () => `
      ${gridStrideLoop(`max(${sizes.map((_, p) => `u.size${p}`).join(', ')}${pairs === 1 ? ', 0' : ''})`)} {
        ${sizes.map((_, p) => `if (i < u.size${p}) { out${p}[i] = target${p}[i] * u.a + source${p}[i] * u.b; }`).join('\n        ')}
      }`,
  });
};
