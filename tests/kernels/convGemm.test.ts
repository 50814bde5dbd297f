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

it('the wide-tile GEMM reads one tensor as both operands, as vec4s or as scalars, and refuses a mix (the buffer is bound one way)', async () => {
  expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tests/kernels/convGemm.run.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...SWIFTSHADER_ENV },
    timeout: 170_000,
  });
  const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as { backend: string; vec4: number; scalar: number; mixed: string };
  expect(seen.backend).toBe('webgpu');
  // X·Xᵀ of 20-long rows of N(0, 1): sums of about 20, float32 summed in another order.
  expect(seen.vec4).toBeLessThan(1e-4);
  expect(seen.scalar).toBeLessThan(1e-4);
  expect(seen.mixed).toBe('TestGram: A and B read x, one as vec4s and the other as scalars');
}, 180_000);
