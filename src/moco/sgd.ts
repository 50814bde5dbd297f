import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** One parameter's part of an SGD step. */
export interface SgdParameter {
  theta: tf.Variable;
  grad: tf.Tensor;
  velocity: tf.Variable;
}

/**
 * Every parameter's step: g ← ∇ + λ·θ;  v ← μ·v + g;  θ ← θ − lr·v. One operation for all
 * parameters, so that a faster implementation can update many in one dispatch.
 */
export const sgdStep = overridable('sgdStep', (parameters: readonly SgdParameter[], learningRate: number, momentum: number, weightDecay: number): void => {
  for (const { theta, grad, velocity } of parameters)
    tf.tidy(() => {
      const g = grad.add(theta.mul(weightDecay));
      const next = velocity.mul(momentum).add(g);
      velocity.assign(next);
      theta.assign(theta.sub(next.mul(learningRate)));
    });
});

/**
 * SGD with momentum and L2 weight decay, in PyTorch's form (the MoCo recipes are tuned for it):
 * g ← ∇ + λ·θ;  v ← μ·v + g;  θ ← θ − lr·v. The learning rate is an argument of each step so a
 * schedule or a slider can change it between steps.
 */
export class SgdMomentum {
  private readonly velocity = new Map<tf.Variable, tf.Variable>();

  constructor(
    readonly momentum = 0.9,
    readonly weightDecay = 5e-4,
  ) {}

  applyGradients(grads: ReadonlyMap<tf.Variable, tf.Tensor>, learningRate: number): void {
    const parameters = [...grads].map(([theta, grad]) => {
      let velocity = this.velocity.get(theta);
      if (!velocity) {
        velocity = tf.tidy(() => tf.variable(tf.zerosLike(theta), false));
        this.velocity.set(theta, velocity);
      }
      return { theta, grad, velocity };
    });
    sgdStep(parameters, learningRate, this.momentum, this.weightDecay);
  }

  /** The velocity of `theta`, or undefined before its first step (checkpoints read it). */
  velocityOf(theta: tf.Variable): tf.Variable | undefined {
    return this.velocity.get(theta);
  }

  /** Sets the velocity of `theta` (a resumed run), creating it when `theta` has not stepped yet. */
  setVelocity(theta: tf.Variable, value: tf.Tensor): void {
    const v = this.velocity.get(theta);
    if (v) v.assign(value);
    else this.velocity.set(theta, tf.tidy(() => tf.variable(value.clone(), false)));
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
    this.velocity.clear();
  }
}
