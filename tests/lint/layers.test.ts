import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The folder layers in eslint.config.js, checked through ESLint itself: an upward import fails
 * `npm run lint`, an import down the layers passes. Only the layer rule runs (no type information),
 * so the check takes seconds.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('folder layers', () => {
  it('rejects an import from a higher folder, types included', async () => {
    const upward: [string, string][] = [
      ['src/moco/fixture.ts', "import { startWorker } from '../worker/api';\nexport const f = startWorker;\n"],
      ['src/eval/fixture.ts', "import type { TrainingApi } from '../worker/api';\nexport type T = TrainingApi;\n"],
      ['src/kernels/webgpu/fixture.ts', "import { formatInt } from '../../ui/format';\nexport const f = formatInt;\n"],
      ['src/util/fixture.ts', "export { Rng } from '../moco/config';\n"],
    ];
    for (const [file, code] of upward) {
      const folder = file.split('/')[1];
      expect(await layerErrors(file, code), file).toEqual([expect.stringMatching(new RegExp(`^no-restricted-imports: .*src/${folder} may import only from`))]);
    }
  });

  it('keeps siblings apart: data and moco, worker and the command lines, bench under cli, nothing on the library entry', async () => {
    expect(await layerErrors('src/data/fixture.ts', "import { mocoConfig } from '../moco/config';\nexport const f = mocoConfig;\n")).toHaveLength(1);
    expect(await layerErrors('src/moco/fixture.ts', "import { loadDataset } from '../data/load';\nexport const f = loadDataset;\n")).toHaveLength(1);
    expect(await layerErrors('src/bench/fixture.ts', "import { parseTrainArgs } from '../cli/args';\nexport const f = parseTrainArgs;\n")).toHaveLength(1);
    expect(await layerErrors('src/cli/fixture.ts', "import { api } from '../worker/api';\nexport const f = api;\n")).toHaveLength(1);
    expect(await layerErrors('src/worker/fixture.ts', "import { USAGE } from '../cli/args';\nexport const f = USAGE;\n")).toHaveLength(1);
    // The library entry is for code outside src/: nothing in src/ builds on it.
    expect(await layerErrors('src/cli/fixture.ts', "import { MoCo } from '../lib';\nexport const f = MoCo;\n")).toHaveLength(1);
    expect(await layerErrors('src/ui/fixture.ts', "import { startBackend } from '../lib/node';\nexport const f = startBackend;\n")).toHaveLength(1);
  });

  it('lets a folder import the folders below it', async () => {
    const downward: [string, string][] = [
      ['src/cli/fixture.ts', "import { parseBenchArgs } from '../bench/args';\nimport { integer } from '../util/options';\nexport const f = [parseBenchArgs, integer];\n"],
      ['src/kernels/webgpu/fixture.ts', "import type { AugmentConfig } from '../../moco/augment';\nimport { Rng } from '../../util/random';\nexport type A = AugmentConfig;\nexport const r = Rng;\n"],
      ['src/lib/fixture.ts', "import { Trainer } from '../train/trainer';\nimport { extractFeatures } from '../eval/features';\nexport const f = [Trainer, extractFeatures];\n"],
      ['src/ui/components/Fixture.tsx', "import type { TrainingApi } from '../../worker/api';\nimport { mocoConfig } from '../../moco/config';\nimport { formatInt } from '../format';\nexport type T = TrainingApi;\nexport const f = [mocoConfig, formatInt];\n"],
    ];
    for (const [file, code] of downward) expect(await layerErrors(file, code), file).toEqual([]);
  });
});
