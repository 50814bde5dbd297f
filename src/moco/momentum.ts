import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** target ← a·target + b·source for every (target, source) pair: the moving averages of MoCo. */
export const lerpAssign = overridable('lerpAssign', (pairs: readonly (readonly [tf.Variable, tf.Tensor])[], a: number, b: number): void => {
  for (const [target, source] of pairs) tf.tidy(() => target.assign(target.mul(a).add(source.mul(b))));
});

/**
 * [Σ(θk − θq)², Σθq²] over every (θk, θq) pair, left on the backend: the key encoder's lag
 * ‖θk − θq‖ / ‖θq‖ is the square root of their ratio (`keyLag`), read back with the step's other
 * statistics rather than on its own. The parameters are concatenated first, so that the sums are a
 * few dispatches whatever the number of parameters. A kernel takes the sums inside
 * `lerpAssignWithLagSums`, while it writes θk, so this plain way has nothing to attach.
 */
function lagSums(pairs: readonly (readonly [tf.Tensor, tf.Tensor])[]): tf.Tensor1D {
  return tf.tidy(() => {
    if (pairs.length === 0) return tf.zeros([2]) as tf.Tensor1D;
    const flat = (i: 0 | 1) => tf.concat(pairs.map((pair) => pair[i].reshape([-1])));
    const thetaK = flat(0);
    const thetaQ = flat(1);
    return tf.stack([tf.squaredDifference(thetaK, thetaQ).sum(), tf.square(thetaQ).sum()]) as tf.Tensor1D;
  });
}

/**
 * θk ← m·θk + (1 − m)·θq for every pair, then their `lagSums`: one operation, so that a kernel can
 * take the sums in the same pass that writes θk (θk and θq read once, no copy of either encoder).
 */
export const lerpAssignWithLagSums = overridable('lerpAssignWithLagSums', (pairs: readonly (readonly [tf.Variable, tf.Tensor])[], m: number): tf.Tensor1D => {
  lerpAssign(pairs, m, 1 - m);
  return lagSums(pairs);
});

/** ‖θk − θq‖ / ‖θq‖ from `lagSums`' two numbers (0 for an all-zero query encoder). */
export function keyLag([distance, size]: readonly number[]): number {
  return size > 0 ? Math.sqrt(distance / size) : 0;
}

/** The (θk, θq) pairs of the two encoders' learnable parameters, paired by name. */
export function parameterPairs(keyParameters: ReadonlyMap<string, tf.Variable>, queryParameters: ReadonlyMap<string, tf.Variable>): (readonly [tf.Variable, tf.Variable])[] {
  return [...keyParameters].map(([name, thetaK]) => {
    const thetaQ = queryParameters.get(name);
    if (!thetaQ) throw new Error(`momentum update: query encoder has no parameter ${name}`);
    return [thetaK, thetaQ] as const;
  });
}

/**
 * θk ← m·θk + (1 − m)·θq for every learnable parameter, paired by name. Batch-norm moving
 * statistics are not parameters and are left to each encoder's own forward passes, as in MoCo.
 */
export function momentumUpdate(
  keyParameters: ReadonlyMap<string, tf.Variable>,
  queryParameters: ReadonlyMap<string, tf.Variable>,
  m: number,
): void {
  lerpAssign(parameterPairs(keyParameters, queryParameters), m, 1 - m);
}

/** `momentumUpdate`, and how far the key encoder then trails the query encoder, as `lagSums` (the caller disposes it). */
export function momentumUpdateWithLag(
  keyParameters: ReadonlyMap<string, tf.Variable>,
  queryParameters: ReadonlyMap<string, tf.Variable>,
  m: number,
): tf.Tensor1D {
  return lerpAssignWithLagSums(parameterPairs(keyParameters, queryParameters), m);
}
