import type { CustomKernel } from '../declaration';

/**
 * tfjs's own GEMM for a convolution's input gradient (`Conv2DDerInputMMProgram`) in place of its
 * default direct kernel (`Conv2DDerInputProgram`): tfjs-backend-webgpu 4.22 picks between them by
 * the flag WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE, read at every Conv2DBackpropInput call
 * (kernels/Conv2DBackpropInput.ts), so switching it between steps switches the program of the next
 * step. Opt-in until a GPU decides (issue #15 lever 2: on the H200, 40 ms against 55 ms a ResNet-18
 * b256 step, but from separate processes): `npm run bench -- --variants custom,custom+TfjsGemmInputGradient`
 * alternates the two in one process (scripts/gpu-perf.sh, step `conv`). Where our own
 * `Conv2DBackpropInput` is on too, ours replaces the kernel and the flag changes nothing.
 *
 * No cases of its own: nothing of ours runs, and tfjs's GEMM is compared with tfjs's direct kernel
 * through a MoCo step with it on (`npm run bench -- --check`, src/bench/kernelChecks.ts).
 */
export const tfjsGemmInputGradient: CustomKernel = {
  name: 'TfjsGemmInputGradient',
  optIn: true,
  flags: { WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE: false },
};
