import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../support/helpers';

/** Dawn on Chromium's SwiftShader: WebGPU without a GPU (the README's variables). */
const SWIFTSHADER_ENV = {
  LD_LIBRARY_PATH: '/usr/lib/chromium',
  VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
};

it("the WebGPU augmentation kernel makes shuffle BN's key views bit for bit the in-order views gathered: each view reads its image's draws by row", async () => {
  expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tests/kernels/augmentRows.run.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...SWIFTSHADER_ENV },
    timeout: 170_000,
  });
  const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as { backend: string; kernels: string[]; values: number; differing: number };
  expect(seen.backend).toBe('webgpu');
  // Both views ran on the augmentation's own kernels (two dispatches each), not tfjs's ops.
  expect(seen.kernels).toEqual(['MocoAugmentMeanGray', 'MocoAugment', 'MocoAugmentMeanGray', 'MocoAugment']);
  expect(seen.values).toBe(7 * 32 * 32 * 3);
  expect(seen.differing).toBe(0);
}, 180_000);
