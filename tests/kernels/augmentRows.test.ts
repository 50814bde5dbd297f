import { expect, it } from 'vitest';
import { runOnDawn } from '../support/helpers';


it("the WebGPU augmentation kernel makes shuffle BN's key views bit for bit the in-order views gathered: each view reads its image's draws by row", async () => {
  const seen = await runOnDawn<{ backend: string; kernels: string[]; values: number; differing: number }>('tests/kernels/augmentRows.run.ts', [], 170_000);
  expect(seen.backend).toBe('webgpu');
  // Both views ran on the augmentation's own kernels (two dispatches each), not tfjs's ops.
  expect(seen.kernels).toEqual(['MocoAugmentMeanGray', 'MocoAugment', 'MocoAugmentMeanGray', 'MocoAugment']);
  expect(seen.values).toBe(7 * 32 * 32 * 3);
  expect(seen.differing).toBe(0);
}, 180_000);
