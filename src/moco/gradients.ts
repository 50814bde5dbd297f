import * as tf from '@tensorflow/tfjs';

/**
 * tfjs's `engine.gradients` (what `tf.variableGrads` calls), leaving nothing behind when it throws.
 * tfjs ends its tape and scopes on a throw, but frees the tensors the tape saved for the backward
 * pass (kept clones of the forward pass's activations, out of every tidy's reach) only after a
 * backward pass that completes: a forward or backward pass that fails (out of memory, a lost
 * device) would leak a whole pass's activations, the memory the retried step needs. On a throw this
 * frees them, and `f`'s result, and ends the tape as a completed pass does. Only a tape of its own
 * (not nested in another gradient pass) is freed: an outer pass still needs its nodes.
 */
export function gradientsFreeingTape(f: () => tf.Scalar, xs: tf.Variable[], dy: tf.Scalar): { value: tf.Scalar; grads: tf.Tensor[] } {
  const engine = tf.engine();
  const ownTape = engine.state.gradientDepth === 0;
  let value: tf.Scalar | undefined;
  try {
    return engine.gradients(() => (value = f()), xs, dy, true) as { value: tf.Scalar; grads: tf.Tensor[] };
  } catch (e) {
    if (ownTape) {
      for (const node of engine.state.activeTape ?? []) tf.dispose(node.saved ?? []);
      (engine.state as { activeTape: unknown }).activeTape = null;
      value?.dispose();
    }
    throw e;
  }
}
