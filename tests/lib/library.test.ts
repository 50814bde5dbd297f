import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runOnDawn, SWIFTSHADER_ENV } from '../support/helpers';

const EXAMPLE = 'examples/library.ts';

/** The README's example, as a user copies it: the code block of "Use the core in your own code". */
function readmeExample(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Use the core in your own code\n')[1];
  expect(section, 'README.md has a section "Use the core in your own code"').toBeDefined();
  const block = /```ts\n([\s\S]*?)```/.exec(section.split('\n## ')[0]);
  expect(block, 'that section has a ```ts block').not.toBeNull();
  return block![1];
}

/** Runs the example as a user does, in a process of its own (Dawn reads its variables at start-up). */
async function runExample(backend: string, env: Record<string, string> = {}): Promise<{ lines: string[]; out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'moco-library-'));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE, backend, out], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    timeout: 400_000,
  });
  return { lines: stdout.trim().split('\n'), out };
}

function figures(lines: string[]) {
  const find = (re: RegExp) => {
    const line = lines.find((l) => re.test(l));
    expect(line, `a line matching ${re} in:\n${lines.join('\n')}`).toBeDefined();
    return re.exec(line!)!;
  };
  return {
    backend: find(/^backend: (.*)$/)[1],
    steps: [1, 2, 3].map((n) => find(new RegExp(`^step ${n}: loss ([\\d.]+), accuracy ([\\d.]+), queue (\\d+)/(\\d+)$`)).slice(1).map(Number)),
    changed: find(/^step 4: m (\S+), K (\d+), key encoder lag (\S+)$/).slice(1).map(Number),
    weights: find(/^weights: (.*)$/)[1],
    resumed: find(/^step 2 resumed: loss ([\d.]+), uninterrupted: ([\d.]+)$/).slice(1).map(Number),
    tensors: find(/^tensors: (\d+) before, (\d+) after$/).slice(1).map(Number),
  };
}

function expectTheExampleWorked(f: ReturnType<typeof figures>, out: string): void {
  // No negatives at step 1 (loss 0, accuracy 1), then 8 keys a step fill the queue of 32.
  expect(f.steps.map(([, , filled, capacity]) => [filled, capacity])).toEqual([[8, 32], [16, 32], [24, 32]]);
  expect(f.steps[0].slice(0, 2)).toEqual([0, 1]);
  // Against 8 and 16 negatives: a real loss (near ln(1 + 8) and ln(1 + 16) for embeddings that tell nothing apart).
  for (const [loss] of f.steps.slice(1)) expect(loss).toBeGreaterThan(1);
  // m = 0 copies the query encoder into the key encoder (lag 0); K = 16 keeps the newest 16 keys.
  expect(f.changed).toEqual([0, 16, 0]);
  const zip = unzipSync(readFileSync(f.weights));
  expect(Object.keys(zip).sort()).toEqual(['README.txt', 'metadata.json', 'model.json', 'model.safetensors', 'weights.bin']);
  expect(JSON.parse(new TextDecoder().decode(zip['metadata.json'])).step).toBe(4);
  expect(existsSync(join(out, 'run.zip'))).toBe(true);
  // A resumed run takes the step the uninterrupted one took.
  expect(f.resumed[0]).toBeGreaterThan(1);
  expect(f.resumed[0]).toBeCloseTo(f.resumed[1], 5);
  // Everything the core made is freed: the user's dispose() calls and the MoCo's own.
  expect(f.tensors[1]).toBe(f.tensors[0]);
}

describe("the README's library example", () => {
  it('is examples/library.ts, verbatim', () => {
    expect(readmeExample()).toBe(readFileSync(join(REPO_ROOT, EXAMPLE), 'utf8'));
  });

  it('trains, changes m and K, exports the weights and resumes a checkpoint on the CPU', async () => {
    const { lines, out } = await runExample('cpu');
    const f = figures(lines);
    expect(f.backend).toBe('CPU (tfjs), as asked');
    expectTheExampleWorked(f, out);
    // tfjs's CPU backend is deterministic: the resumed step is the uninterrupted one, to the last digit printed.
    expect(f.resumed[0]).toBe(f.resumed[1]);
  }, 400_000);

  it('does the same on WebGPU through Dawn (SwiftShader), our kernels on', async () => {
    expect(existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES), 'Chromium (with SwiftShader) must be installed: .ci/run does it').toBe(true);
    const { lines, out } = await runExample('webgpu', SWIFTSHADER_ENV);
    const f = figures(lines);
    expect(f.backend).toMatch(/^WebGPU \(Dawn\) on .*swiftshader.*, as asked$/i);
    expectTheExampleWorked(f, out);
  }, 400_000);
});

describe('startBackend', () => {
  it("puts our WebGPU kernels in place of the backend's own, whatever was switched before Dawn was set up, and takes them out with customKernels: false", async () => {
    const r = await runOnDawn<{ backend: string; before: boolean; on: boolean; off: boolean; error: string | null }>('tests/lib/startBackend.run.ts', [], 300_000);
    expect(r).toEqual({ backend: 'webgpu', before: false, on: true, off: false, error: "startBackend: no backend 'gpu'; choose one of auto, webgpu, wasm, cpu" });
  }, 300_000);
});
