import * as tf from '@tensorflow/tfjs';
import { overridable } from './overridable';

/** target ← a·target + b·source for every (target, source) pair: the moving averages of MoCo. */
export const lerpAssign = overridable('lerpAssign', (pairs: readonly (readonly [tf.Variable, tf.Tensor])[], a: number, b: number): void => {
  for (const [target, source] of pairs) tf.tidy(() => target.assign(target.mul(a).add(source.mul(b))));
});

/**
 * θk ← m·θk + (1 − m)·θq for every learnable parameter, paired by name. Batch-norm moving
 * statistics are not parameters and are left to each encoder's own forward passes, as in MoCo.
 */
export function momentumUpdate(
  keyParameters: ReadonlyMap<string, tf.Variable>,
  queryParameters: ReadonlyMap<string, tf.Variable>,
  m: number,
): void {
  const pairs = [...keyParameters].map(([name, thetaK]) => {
    const thetaQ = queryParameters.get(name);
    if (!thetaQ) throw new Error(`momentum update: query encoder has no parameter ${name}`);
    return [thetaK, thetaQ] as const;
  });
  lerpAssign(pairs, m, 1 - m);
}
