import * as tf from '@tensorflow/tfjs';
import { updateMovingStatistics } from '../../moco/batchNorm';
import { lerpAssign, lerpAssignWithLagSums, momentumUpdate, momentumUpdateWithLag } from '../../moco/momentum';
import { attach, kernelFunc, normal, runKernel, type CustomKernel, type KernelDefinition } from '../declaration';
import { chunks, concatenatedLoop, f32, gridStride, gridStrideLoop, i32, ownsBuffer, partition, runProgram, storageBufferLimit, workgroupReduction, type Uniform } from './program';

const LERP = 'MocoLerp';
const LERP_IN_PLACE = 'MocoLerpInPlace';
const LERP_LAG = 'MocoLerpLagInPlace';
const LAG_SUMS = 'MocoLagSums';

/** Pairs per dispatch of the out-of-place program: each takes 3 storage buffers (target, source, result) of WebGPU's default 8. */
const PAIRS_PER_DISPATCH = 2;
/** Storage buffers per pair updated in place: the target (read-write) and the source. */
const BUFFERS_PER_PAIR = 2;

/** The previous default, for A/B runs (`--variants custom,custom+PerTensorUpdates`): new tensors, two pairs per dispatch. */
let perTensor = false;
/** The lag's sums the plain way after the update (`--variants custom,custom+SeparateLagSums`): the A/B of the fused sums. */
let separateLag = false;

interface LerpAttrs {
  a: number;
  b: number;
}

interface LagAttrs extends LerpAttrs {
  /** This dispatch's first slot in the partial sums (one slot per workgroup). */
  slot: number;
  /** Slots of all the update's dispatches together. */
  slots: number;
}

/**
 * The moving averages (momentum encoder, batch-norm statistics; src/moco/momentum.ts),
 * target_p ← a·target_p + b·source_p. Targets that own their buffers are updated in place, as many
 * pairs per dispatch as the device binds buffers for (6 at 12 storage buffers, 4 at the default 8),
 * their elements laid end to end. A target sharing its buffer with another tensor (the key encoder
 * right after copying the query encoder by `assign`) gets a new tensor instead, two pairs per dispatch.
 */
export const movingAverage: CustomKernel = {
  name: 'MovingAverage',
  kernels: [
    {
      kernelName: LERP,
      kernelFunc: kernelFunc<'target0' | 'source0', LerpAttrs>(['target0', 'source0'], (bound, { a, b }, backend) => {
        const inputs: Record<string, tf.TensorInfo> = bound;
        const pairs = inputs.target1 ? 2 : 1;
        const ps = Array.from({ length: pairs }, (_, p) => p);
        const sizes = ps.map((p) => tf.util.sizeFromShape(inputs[`target${p}`].shape));
        const uniforms: Record<string, Uniform> = {};
        ps.forEach((p) => (uniforms[`size${p}`] = i32(sizes[p])));
        return runProgram(backend, {
          name: LERP,
          key: String(pairs),
          inputs: Object.fromEntries(ps.flatMap((p) => [`target${p}`, `source${p}`].map((n) => [n, inputs[n]]))),
          outputs: Object.fromEntries(ps.map((p) => [`out${p}`, inputs[`target${p}`].shape])),
          uniforms: { ...uniforms, a: f32(a), b: f32(b) },
          dispatch: gridStride(Math.max(...sizes)),
          body: () => `
            ${gridStrideLoop(`max(${ps.map((p) => `u.size${p}`).join(', ')}${pairs === 1 ? ', 0' : ''})`)} {
              ${ps.map((p) => `if (i < u.size${p}) { out${p}[i] = target${p}[i] * u.a + source${p}[i] * u.b; }`).join('\n              ')}
            }`,
        });
      }),
    },
    lerpInPlace(false),
    // The momentum update with the lag's sums.
    lerpInPlace(true),
    {
      kernelName: LAG_SUMS,
      kernelFunc: kernelFunc<'partials'>(['partials'], ({ partials }, _attrs, backend) =>
        runProgram(backend, {
          name: LAG_SUMS,
          inputs: { partials },
          outputs: { sums: [2] },
          uniforms: { slots: i32(partials.shape[0] / 2) },
          dispatch: [1, 1, 1],
          declarations: () => workgroupReduction({ type: 'vec2<f32>' }),
          body: () => `
            var acc = vec2<f32>(0.0);
            for (var k = i32(lidx); k < u.slots; k += 256) { acc += vec2<f32>(partials[2 * k], partials[2 * k + 1]); }
            let total = reduceSum(acc, lidx);
            if (lidx == 0u) { sums[0] = total.x; sums[1] = total.y; }`,
        }),
      ),
    },
  ],
  overrides: [
    attach(lerpAssignWithLagSums, (plain, pairs, m) => {
      const backend = tf.backend();
      if (separateLag || perTensor || pairs.length === 0 || !pairs.every(([target]) => ownsBuffer(backend, target))) return plain(pairs, m);
      // One buffer fewer per dispatch than the plain update: the partial sums.
      const groups = chunks(pairs, Math.floor((storageBufferLimit(backend) - 1) / BUFFERS_PER_PAIR));
      const workgroups = groups.map((group) => gridStride(group.reduce((n, [target]) => n + target.size, 0))[0]);
      const slots = workgroups.reduce((n, w) => n + w, 0);
      let partials: tf.Tensor | undefined;
      let slot = 0;
      groups.forEach((group, d) => {
        const inputs = pairInputs(group);
        if (partials) inputs.partials = partials;
        const out = runKernel(LERP_LAG, inputs, { a: m, b: 1 - m, slot, slots });
        partials ??= out[0];
        slot += workgroups[d];
      });
      const [sums] = runKernel(LAG_SUMS, { partials: partials! });
      partials!.dispose();
      return sums as tf.Tensor1D;
    }),
    attach(lerpAssign, (_plain, pairs, a, b) => {
      const backend = tf.backend();
      const [inPlace, rest] = partition(pairs, ([target]) => !perTensor && ownsBuffer(backend, target));
      for (const group of chunks(inPlace, Math.floor(storageBufferLimit(backend) / BUFFERS_PER_PAIR))) {
        runKernel(LERP_IN_PLACE, pairInputs(group), { a, b });
      }
      for (const group of chunks(rest, PAIRS_PER_DISPATCH)) {
        const outputs = runKernel(LERP, pairInputs(group), { a, b });
        group.forEach(([target], p) => target.assign(outputs[p]));
        tf.dispose(outputs);
      }
    }),
  ],
  options: [
    { name: 'PerTensorUpdates', setOn: (on) => (perTensor = on), previousDefault: true },
    { name: 'SeparateLagSums', setOn: (on) => (separateLag = on), previousDefault: true },
  ],
  cases: [
    {
      name: "MovingAverage: the momentum update with the key encoder's lag sums (6 parameters), in place",
      program: LAG_SUMS,
      run: () => {
        const shapes = [[3, 3, 3, 5], [7], [5, 11], [2, 9], [1], [300, 70]];
        const variable = (shape: number[], seed: number) => {
          const init = normal(shape, seed);
          const v = tf.variable(init, false);
          init.dispose();
          return v;
        };
        const key = new Map(shapes.map((s, i) => [`p${i}`, variable(s, 140 + i)]));
        const query = new Map(shapes.map((s, i) => [`p${i}`, variable(s, 150 + i)]));
        const lag = momentumUpdateWithLag(key, query, 0.9);
        const out: Record<string, tf.Tensor> = { lag };
        for (const [name, v] of key) out[name] = v.clone();
        tf.dispose([...key.values(), ...query.values()]);
        return out;
      },
    },
    {
      name: 'MovingAverage: momentum encoder (5 parameters) and moving statistics (2 layers), in place',
      program: LERP_IN_PLACE,
      run: () => movingAverages(true),
    },
    {
      // An odd number of pairs: two per dispatch.
      name: 'MovingAverage: targets sharing their buffers (new tensors)',
      program: LERP,
      run: () => movingAverages(false),
    },
  ],
};

/** The inputs of one dispatch over `pairs`: `target0`, `source0`, `target1`, … */
function pairInputs(pairs: readonly (readonly [tf.Tensor, tf.Tensor])[]): tf.NamedTensorMap {
  return Object.fromEntries(pairs.flatMap(([target, source], p) => [[`target${p}`, target], [`source${p}`, source]]));
}

/**
 * target_p ← a·target_p + b·source_p in place, the pairs laid end to end. With `lagSums` (the
 * momentum update), each workgroup also sums (target_p − source_p)² and source_p² over its elements
 * (the updated target in a register already) into its slot of `partials`, which the first dispatch
 * creates and the others write in place.
 */
function lerpInPlace(lagSums: boolean): KernelDefinition {
  // With t = target_p[j] updated and s = source_p[j], into the workgroup's sums.
  const lagTerms = `
          let d = t - s;
          acc += vec2<f32>(d * d, s * s);`;
  const name = lagSums ? LERP_LAG : LERP_IN_PLACE;
  return {
    kernelName: name,
    kernelFunc: kernelFunc<'target0' | 'source0', LerpAttrs & Partial<LagAttrs>>(['target0', 'source0'], (bound, { a, b, slot = 0, slots = 0 }, backend) => {
      const { partials, ...inputs }: Record<string, tf.TensorInfo> = bound;
      const count = Object.keys(inputs).length / BUFFERS_PER_PAIR;
      const ps = Array.from({ length: count }, (_, p) => p);
      const loop = concatenatedLoop(
        ps.map((p) => tf.util.sizeFromShape(inputs[`target${p}`].shape)),
        (p) => `let s = source${p}[j];
          let t = target${p}[j] * u.a + s * u.b;
          target${p}[j] = t;${lagSums ? lagTerms : ''}`,
      );
      const targets = Object.fromEntries(ps.map((p) => [`target${p}`, inputs[`target${p}`]]));
      const sources = Object.fromEntries(ps.map((p) => [`source${p}`, inputs[`source${p}`]]));
      const uniforms = { ...loop.uniforms, a: f32(a), b: f32(b) };
      if (!lagSums) {
        return runProgram(backend, { name, key: String(count), inputs: sources, inPlace: targets, outputs: {}, uniforms, dispatch: loop.dispatch, body: loop.body });
      }
      return runProgram(backend, {
        name,
        key: `${count}|${partials ? 'next' : 'first'}`,
        inputs: sources,
        inPlace: { ...targets, ...(partials ? { partials } : {}) },
        outputs: partials ? {} : { partials: [2 * slots] },
        uniforms: { ...uniforms, slot: i32(slot) },
        dispatch: loop.dispatch,
        declarations: () => workgroupReduction({ type: 'vec2<f32>' }),
        body: () => `
            var acc = vec2<f32>(0.0);
            ${loop.body()}
            let total = reduceSum(acc, lidx);
            if (lidx == 0u) {
              let at = 2 * (u.slot + i32(wid.x));
              partials[at] = total.x;
              partials[at + 1] = total.y;
            }`,
      });
    }),
  };
}

/** A momentum update and one of moving statistics, on variables that own their buffers or share them. */
function movingAverages(owned: boolean): Record<string, tf.Tensor> {
  // tf.variable shares its initial value's buffer until that is disposed.
  const variable = (init: tf.Tensor) => {
    const v = tf.variable(init, false);
    if (owned) init.dispose();
    return v;
  };
  const shapes = owned ? [[3, 3, 3, 5], [7], [5, 11], [2, 9], [1]] : [[3, 3, 3, 5], [7], [5, 11]];
  const key = new Map(shapes.map((s, i) => [`p${i}`, variable(normal(s, 80 + i))]));
  const query = new Map(shapes.map((s, i) => [`p${i}`, variable(normal(s, 90 + i))]));
  momentumUpdate(key, query, 0.99);
  const layers = [9, 4].map((c, l) => ({
    movingMean: variable(normal([c], 100 + l)),
    movingVariance: variable(normal([c], 110 + l).abs()),
    batchMean: normal([c], 120 + l) as tf.Tensor1D,
    batchVariance: normal([c], 130 + l).abs() as tf.Tensor1D,
  }));
  updateMovingStatistics(owned ? layers : layers.slice(0, 1));
  const out: Record<string, tf.Tensor> = {};
  layers.forEach((l, i) => Object.assign(out, { [`mean${i}`]: l.movingMean.clone(), [`variance${i}`]: l.movingVariance.clone() }));
  for (const [name, v] of key) out[name] = v.clone();
  tf.dispose([...key.values(), ...query.values(), ...layers.flatMap((l) => [l.movingMean, l.movingVariance])]);
  return out;
}
