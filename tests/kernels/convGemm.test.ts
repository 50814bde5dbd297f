import { expect, it } from 'vitest';
import { runOnDawn } from '../support/helpers';


it('the wide-tile GEMM reads one tensor as both operands, as vec4s or as scalars, and refuses a mix (the buffer is bound one way)', async () => {
  const seen = await runOnDawn<{ backend: string; vec4: number; scalar: number; mixed: string }>('tests/kernels/convGemm.run.ts', [], 170_000);
  expect(seen.backend).toBe('webgpu');
  // X·Xᵀ of 20-long rows of N(0, 1): sums of about 20, float32 summed in another order.
  expect(seen.vec4).toBeLessThan(1e-4);
  expect(seen.scalar).toBeLessThan(1e-4);
  expect(seen.mixed).toBe('TestGram: A and B read x, one as vec4s and the other as scalars');
}, 180_000);
