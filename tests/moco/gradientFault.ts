import * as tf from '@tensorflow/tfjs';
import { mocoConfig } from '../../src/moco/config';
import { MoCo } from '../../src/moco/moco';

/** Where the gradient pass of a step fails: at the end of the query encoder's forward pass, or in the backward pass. */
export type GradientFault = 'forward' | 'backward';

/** What the engine and memory look like around a step whose gradient pass throws. */
export interface GradientFaultReport {
  backend: string;
  error: string;
  /** Live tensors after the clean steps, right after the failed step, and after each of the steps after it. */
  before: number;
  afterFault: number;
  after: number[];
  /** The engine's gradient bookkeeping right after the failed step (all at rest: 0). */
  engine: { gradientDepth: number; kernelDepth: number; openScopes: number; tapeNodes: number };
  losses: number[];
}

const FAULT = 'the GPU device was lost';

/**
 * Three clean steps (the queue full, the probe and velocities made), one step whose gradient pass
 * throws where `fault` says, then `stepsAfter` more steps. The query encoder's forward pass runs in
 * full before the fault, so the tape holds every tensor it saved for the backward pass.
 */
export async function stepAfterGradientFault(fault: GradientFault, stepsAfter = 20): Promise<GradientFaultReport> {
  const moco = new MoCo(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 16, bnSplits: 2, seed: 3 }));
  const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  for (let i = 0; i < 3; i++) await moco.step(images);
  const before = tf.memory().numTensors;

  const encoder = moco.encoderQ;
  const forward = encoder.forward.bind(encoder);
  // The backward pass's failure: the projection passes through an identity whose gradient throws.
  const failingGradient = tf.customGrad((...[x]) => ({
    value: (x as tf.Tensor).clone(),
    gradFunc: () => {
      throw new Error(FAULT);
    },
  }));
  encoder.forward = (x, training) => {
    const out = forward(x, training);
    if (fault === 'forward') throw new Error(FAULT);
    return { ...out, projection: failingGradient(out.projection) as tf.Tensor };
  };
  let error = '';
  try {
    await moco.step(images);
  } catch (e) {
    error = (e as Error).message;
  } finally {
    encoder.forward = forward;
  }
  const afterFault = tf.memory().numTensors;
  const { state } = tf.engine();
  const engine = {
    gradientDepth: state.gradientDepth,
    kernelDepth: state.kernelDepth,
    openScopes: state.scopeStack.length,
    tapeNodes: state.activeTape?.length ?? 0,
  };
  const after: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < stepsAfter; i++) {
    losses.push((await moco.step(images)).loss);
    after.push(tf.memory().numTensors);
  }
  images.dispose();
  moco.dispose();
  return { backend: tf.getBackend(), error, before, afterFault, after, engine, losses };
}
