import { beforeAll, describe, expect, it } from 'vitest';
import { runOnDawn, useCpuBackend } from '../support/helpers';
import { stepAfterGradientFault, type GradientFault, type GradientFaultReport } from './gradientFault';


/**
 * A step whose gradient pass throws must leave tfjs's engine at rest (no open tape or scope: else
 * every later op would be recorded and kept) and nothing of the failed pass alive: the tensors the
 * tape saved for the backward pass are tfjs's kept clones, which no tidy frees.
 */
function expectCleanAfterFault(r: GradientFaultReport, steps: number): void {
  expect(r.error).toBe('the GPU device was lost');
  expect(r.engine).toEqual({ gradientDepth: 0, kernelDepth: 0, openScopes: 0, tapeNodes: 0 });
  expect(r.afterFault).toBe(r.before);
  expect(r.after).toEqual(Array.from({ length: steps }, () => r.before));
  for (const loss of r.losses) expect(Number.isFinite(loss)).toBe(true);
}

describe('a step whose gradient pass throws (CPU)', () => {
  beforeAll(useCpuBackend);
  it.each<GradientFault>(['forward', 'backward'])('in the %s pass leaves the engine at rest and no tensor behind, over 5 steps after', async (fault) => {
    const r = await stepAfterGradientFault(fault, 5);
    expect(r.backend).toBe('cpu');
    expectCleanAfterFault(r, 5);
  }, 120_000);
});

it('a step whose gradient pass throws on WebGPU (Dawn) leaves the engine at rest and no tensor behind, over the 3 steps after each fault (SwiftShader takes seconds a step)', async () => {
  const seen = await runOnDawn<Record<GradientFault, GradientFaultReport>>('tests/moco/gradientFault.run.ts', ['3', '3'], 560_000);
  expect(seen.forward.backend).toBe('webgpu');
  expectCleanAfterFault(seen.forward, 3);
  expect(seen.backward.backend).toBe('webgpu');
  expectCleanAfterFault(seen.backward, 3);
}, 580_000);
