import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { BenchFile } from '../../src/bench/report';
import { REPO_ROOT, SWIFTSHADER_ENV } from '../support/helpers';

const run = promisify(execFile);

describe('the benchmark times the host part of a step (issue #15, lever 4)', () => {
  it('reports host ms per step and per dispatch, each step ending its host part before its wall time (WebGPU, Dawn on SwiftShader)', async () => {
    expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
    const resultFile = join(mkdtempSync(join(tmpdir(), 'moco-host-')), 'result.json');
    const argv = ['--preset', 'tiny', '--batch', '2', '--queue', '8', '--steps', '2', '--warmup', '1', '--variants', 'custom,custom+BindingCache'];
    argv.push('--no-profile', '--backend', 'webgpu', '--result-file', resultFile);
    await run(process.execPath, ['--import', 'tsx', 'src/bench/nodeMain.ts', ...argv], { cwd: REPO_ROOT, env: { ...process.env, ...SWIFTSHADER_ENV }, timeout: 400_000 });
    const file = JSON.parse(readFileSync(resultFile, 'utf8')) as BenchFile;
    expect(file.errors).toEqual([]);
    const { result } = file.runs[0];
    expect(result.notes.join('\n')).not.toMatch(/read back \d+ times/);
    for (const v of result.variants) {
      expect(v.hostStepMs, v.variant).toHaveLength(2);
      v.hostStepMs.forEach((host, i) => {
        expect(host, `${v.variant} step ${i + 1}`).toBeGreaterThan(0);
        // SwiftShader computes the step on the CPU after its commands are submitted: the read-back
        // waits for it, so the host part ends well before the step does.
        expect(host, `${v.variant} step ${i + 1}`).toBeLessThan(v.stepMs[i]);
      });
      expect(v.medianHostMs).toBeLessThan(v.medianStepMs);
      expect(v.dispatchesPerStep).toBeGreaterThan(50);
      expect(v.hostMsPerDispatch).toBeCloseTo(v.medianHostMs / v.dispatchesPerStep!, 9);
    }
    // The binding cache records the same programs: the same dispatches, and the same loss to the bit.
    const [custom, cached] = result.variants;
    expect(cached.dispatchesPerStep).toBe(custom.dispatchesPerStep);
    expect(cached.dispatchesByProgram).toEqual(custom.dispatchesByProgram);
    expect(cached.loss).toBe(custom.loss);
  }, 420_000);
});
