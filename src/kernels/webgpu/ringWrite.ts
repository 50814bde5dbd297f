import * as tf from '@tensorflow/tfjs';
import { writeRing } from '../../moco/queue';
import { attach, kernelFunc, normal, runKernel, type CustomKernel } from '../declaration';
import { gridStride, gridStrideLoop, i32, ownsBuffer, runProgram } from './program';

const WRITE = 'MocoRingWrite';

/**
 * The queue's enqueue (src/moco/queue.ts, `writeRing`) in one dispatch writing the new keys into the
 * queue's buffer in place, wrapping around (tfjs: slices of the keys kept and of the new ones, and
 * their concatenation, 3–4 dispatches, a copy of the whole queue). Where the queue shares its buffer
 * (just restored from a checkpoint's tensor) the plain write runs once and gives it its own.
 */
export const ringWrite: CustomKernel = {
  name: 'RingWrite',
  kernels: [
    {
      kernelName: WRITE,
      kernelFunc: kernelFunc<'ring' | 'rows', { start: number }>(['ring', 'rows'], ({ ring, rows }, { start }, backend) => {
        const [cap, dim] = ring.shape;
        const size = rows.shape[0] * dim;
        return runProgram(backend, {
          name: WRITE,
          inputs: { rows },
          inPlace: { ring },
          outputs: {},
          uniforms: { size: i32(size), start: i32(start), capacity: i32(cap), dim: i32(dim) },
          dispatch: gridStride(size),
          body: () => `
            ${gridStrideLoop('u.size')} {
              let r = i / u.dim;
              let j = i - r * u.dim;
              ring[((u.start + r) % u.capacity) * u.dim + j] = rows[i];
            }`,
        });
      }),
    },
  ],
  overrides: [
    attach(writeRing, (plain, target, rows, start) => {
      const [cap, dim] = target.shape;
      const fits = rows.shape[0] <= cap && rows.shape[1] === dim && start >= 0 && start < cap;
      if (!fits || target.dtype !== 'float32' || rows.dtype !== 'float32' || !ownsBuffer(tf.backend(), target)) return plain(target, rows, start);
      runKernel(WRITE, { ring: target, rows }, { start });
    }),
  ],
  cases: (
    [
      ['4 keys at slot 2 of 11', 11, 4, 2],
      ['5 keys at slot 8 of 11, 2 of them wrapped to the front', 11, 5, 8],
      ['a full queue of 6 rewritten from slot 3', 6, 6, 3],
    ] as [label: string, capacity: number, n: number, start: number][]
  ).map(([label, capacity, n, start], i) => ({
    name: `queue write, ${label}`,
    program: WRITE,
    run: () => {
      // Made inside a tidy of its own: the variable then alone holds its buffer, as the queue's does.
      const queue = tf.tidy(() => tf.variable(normal([capacity, 7], 150 + i), false));
      writeRing(queue, normal([n, 7], 160 + i) as tf.Tensor2D, start);
      const out = queue.clone();
      queue.dispose();
      return { queue: out };
    },
  })),
};
