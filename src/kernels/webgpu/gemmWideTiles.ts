import type { CustomKernel } from '../declaration';
import { CONV2D_PROGRAM } from './conv2d';
import { WEIGHT_GRADIENT_PROGRAM } from './conv2dBackpropFilter';
import { INPUT_GRADIENT_PROGRAM } from './conv2dBackpropInput';
import { convCases, setGemmWideTiles } from './convGemm';

/**
 * The wide tiles of convGemm.ts (8×8 outputs per invocation in up to 128×128 tiles, vec4 staging
 * loads) for every convolution GEMM of ours that is on: the weight gradient, and where included the
 * input gradient (`Conv2DBackpropInput`) and the forward convolution (`Conv2D`). No kernel of its
 * own: a switch of the tile path those kernels share, whichever of them runs (`--except
 * Conv2DBackpropFilter --include Conv2D,GemmWideTiles`: the forward GEMM wide, the weight gradient
 * tfjs's). Opt-in until a GPU's A/B says which tiles are faster (`--variants custom,custom+GemmWideTiles`;
 * docs/PERFORMANCE.md, scripts/gpu-perf.sh's `conv` step).
 *
 * Its cases are every convolution case of the three kernels on the wide path, each of which must run
 * the kernel's `Wide` program (the kernels' own cases run the same shapes on the default tiles).
 */
export const gemmWideTiles: CustomKernel = {
  name: 'GemmWideTiles',
  optIn: true,
  setOn: setGemmWideTiles,
  cases: [
    ...convCases('Conv2DBackpropFilter', WEIGHT_GRADIENT_PROGRAM, { wide: true }),
    ...convCases('Conv2DBackpropInput', INPUT_GRADIENT_PROGRAM, { wide: true }),
    ...convCases('Conv2D', CONV2D_PROGRAM, { wide: true }),
  ],
};
