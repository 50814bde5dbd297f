import * as tf from '@tensorflow/tfjs';
import { SgdMomentum, sgdStep } from '../../moco/sgd';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { f32, gridStride, gridStrideLoop, i32, runProgram } from './program';

const SGD = 'MocoSgdMomentum';

interface SgdAttrs {
  learningRate: number;
  momentum: number;
  weightDecay: number;
}

const SHAPES = [[3, 3, 3, 5], [7], [5, 11], [1]];

/** PyTorch's SGD step of one parameter (src/moco/sgd.ts) in one dispatch: [θ', v'] from θ, v, ∇. */
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
  ],
  overrides: [
    attach(sgdStep, (_plain, theta, grad, velocity, learningRate, momentum, weightDecay) => {
      const [t, v] = runKernel(SGD, { theta, velocity, grad }, { learningRate, momentum, weightDecay });
      theta.assign(t);
      velocity.assign(v);
      tf.dispose([t, v]);
    }),
  ],
  cases: [
    {
      name: `SgdMomentum: 3 steps on ${SHAPES.length} parameters`,
      program: SGD,
      run: () => {
        const thetas = SHAPES.map((s, i) => tf.variable(normal(s, 60 + i), true));
        const sgd = new SgdMomentum(0.9, 5e-4);
        for (let step = 0; step < 3; step++) sgd.applyGradients(new Map(thetas.map((t, i) => [t, normal(SHAPES[i], 70 + 10 * step + i)])), 0.1);
        sgd.dispose();
        const out = Object.fromEntries(thetas.map((t, i) => [`theta${i}`, t.clone()]));
        tf.dispose(thetas);
        return out;
      },
    },
  ],
};
