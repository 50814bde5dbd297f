import { fileURLToPath } from 'node:url';
import { runMain } from '../util/runMain';

/**
 * The benchmark and the trainer as one ESM file for a GPU machine without Node's toolchain
 * (../shared/gpu/pack.sh): everything bundled but 'webgpu', Dawn's native module, which pack.sh
 * ships beside it. esbuild comes with tsx.
 */
runMain(async ([outfile = 'dist-node/moco.mjs']) => {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [fileURLToPath(new URL('./gpu.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    outfile,
    logLevel: 'warning',
    // tfjs's Node builds are CommonJS and require Node's modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  console.log(`bundle: ${outfile}\nnext: ../shared/gpu/pack.sh ${outfile}; on the GPU machine: bash .gpu/run.sh bench|train ARGS (docs/PERFORMANCE.md)`);
  return 0;
});
