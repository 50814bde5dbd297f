import * as tf from '@tensorflow/tfjs';
import { fusedLerpAssign } from '../kernels/fused';

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
  if (fusedLerpAssign(pairs, m, 1 - m)) return;
  for (const [thetaK, thetaQ] of pairs) tf.tidy(() => thetaK.assign(thetaK.mul(m).add(thetaQ.mul(1 - m))));
}
