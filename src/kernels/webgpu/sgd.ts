import * as tf from '@tensorflow/tfjs';
import { SgdMomentum, sgdStep, type SgdParameter } from '../../moco/sgd';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { chunks, concatenatedLoop, f32, gridStride, gridStrideLoop, i32, ownsBuffer, partition, runProgram, storageBufferLimit } from './program';

const SGD = 'MocoSgdMomentum';
const SGD_IN_PLACE = 'MocoSgdMomentumInPlace';

interface SgdAttrs {
  learningRate: number;
  momentum: number;
  weightDecay: number;
}

/** Storage buffers per parameter updated in place: θ and v (read-write), ∇. */
const BUFFERS_PER_PARAMETER = 3;

/** The previous default, for A/B runs (`--variants custom,custom+PerTensorUpdates`): one dispatch per parameter, new tensors. */
let perTensor = false;

const SHAPES = [[3, 3, 3, 5], [7], [5, 11], [1], [4, 6], [2, 2, 3], [9]];

function updateInPlace(parameters: readonly SgdParameter[], attrs: SgdAttrs): void {
  const inputs: tf.NamedTensorMap = {};
  parameters.forEach(({ theta, velocity, grad }, p) => Object.assign(inputs, { [`theta${p}`]: theta, [`velocity${p}`]: velocity, [`grad${p}`]: grad }));
  runKernel(SGD_IN_PLACE, inputs, attrs);
}

/**
 * PyTorch's SGD step (src/moco/sgd.ts): θ and v updated in place, as many parameters per dispatch as
 * the device binds buffers for (4 at 12 storage buffers, 2 at WebGPU's default 8), their elements
 * laid end to end. A parameter whose buffer another tensor shares (an encoder copied from the other
 * by `assign`, before its first step) goes through the one-parameter program, which writes new tensors.
 */
export const sgdMomentum: CustomKernel = {
  name: 'SgdMomentum',
  kernels: [
    {
      kernelName: SGD,
      kernelFunc: kernelFunc<'theta' | 'velocity' | 'grad', SgdAttrs>(['theta', 'velocity', 'grad'], ({ theta, velocity, grad }, a, backend) => {
        const size = tf.util.sizeFromShape(theta.shape);
        return runProgram(backend, {
          name: SGD,
          inputs: { theta, velocity, grad },
          outputs: { thetaOut: theta.shape, velocityOut: theta.shape },
          uniforms: { size: i32(size), lr: f32(a.learningRate), momentum: f32(a.momentum), decay: f32(a.weightDecay) },
          dispatch: gridStride(size),
          body: () => `
            ${gridStrideLoop('u.size')} {
              let t = theta[i];
              let v = velocity[i] * u.momentum + (grad[i] + t * u.decay);
              velocityOut[i] = v;
              thetaOut[i] = t - v * u.lr;
            }`,
        });
      }),
    },
    {
      kernelName: SGD_IN_PLACE,
      kernelFunc: kernelFunc<'theta0' | 'velocity0' | 'grad0', SgdAttrs>(['theta0', 'velocity0', 'grad0'], (bound, a, backend) => {
        const inputs: Record<string, tf.TensorInfo> = bound;
        const count = Object.keys(inputs).length / BUFFERS_PER_PARAMETER;
        const ps = Array.from({ length: count }, (_, p) => p);
        const loop = concatenatedLoop(
          ps.map((p) => tf.util.sizeFromShape(inputs[`theta${p}`].shape)),
          (p) => `let t = theta${p}[j];
          let v = velocity${p}[j] * u.momentum + (grad${p}[j] + t * u.decay);
          velocity${p}[j] = v;
          theta${p}[j] = t - v * u.lr;`,
        );
        return runProgram(backend, {
          name: SGD_IN_PLACE,
          key: String(count),
          inputs: Object.fromEntries(ps.map((p) => [`grad${p}`, inputs[`grad${p}`]])),
          inPlace: Object.fromEntries(ps.flatMap((p) => [`theta${p}`, `velocity${p}`].map((n) => [n, inputs[n]]))),
          outputs: {},
          uniforms: { ...loop.uniforms, lr: f32(a.learningRate), momentum: f32(a.momentum), decay: f32(a.weightDecay) },
          dispatch: loop.dispatch,
          body: loop.body,
        });
      }),
    },
  ],
  overrides: [
    attach(sgdStep, (_plain, parameters, learningRate, momentum, weightDecay) => {
      const attrs = { learningRate, momentum, weightDecay };
      const backend = tf.backend();
      const owned = (t: tf.Tensor) => ownsBuffer(backend, t);
      const [inPlace, rest] = partition(parameters, (q) => !perTensor && owned(q.theta) && owned(q.velocity));
      for (const group of chunks(inPlace, Math.floor(storageBufferLimit(backend) / BUFFERS_PER_PARAMETER))) updateInPlace(group, attrs);
      for (const { theta, velocity, grad } of rest) {
        const [t, v] = runKernel(SGD, { theta, velocity, grad }, attrs);
        theta.assign(t);
        velocity.assign(v);
        tf.dispose([t, v]);
      }
    }),
  ],
  options: [{ name: 'PerTensorUpdates', setOn: (on) => (perTensor = on), previousDefault: true }],
  cases: [
    {
      name: `SgdMomentum: 3 steps on ${SHAPES.length} parameters, in place`,
      program: SGD_IN_PLACE,
      run: () => sgdSteps(SHAPES, 3, true),
    },
    {
      name: 'SgdMomentum: parameters sharing their buffers (one program each, new tensors)',
      program: SGD,
      run: () => sgdSteps(SHAPES.slice(0, 3), 2, false),
    },
  ],
};

/** `steps` SGD steps on parameters of `shapes`, as variables that own their buffers or share them. */
function sgdSteps(shapes: number[][], steps: number, owned: boolean): Record<string, tf.Tensor> {
  // tf.variable shares its initial value's buffer until that is disposed.
  const thetas = shapes.map((s, i) => {
    const init = normal(s, 60 + i);
    const v = tf.variable(init, true);
    if (owned) init.dispose();
    return v;
  });
  const sgd = new SgdMomentum(0.9, 5e-4);
  for (let step = 0; step < steps; step++) sgd.applyGradients(new Map(thetas.map((t, i) => [t, normal(shapes[i], 70 + 10 * step + i)])), 0.1);
  sgd.dispose();
  const out = Object.fromEntries(thetas.map((t, i) => [`theta${i}`, t.clone()]));
  tf.dispose(thetas);
  return out;
}
