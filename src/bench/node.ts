import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { installNodeWebGpu } from '../util/nodeWebgpu';
import { parseCommandLine } from '../util/runMain';
import { useCustomKernels } from '../kernels/registry';
import { BENCH_USAGE, benchOptionsOf, checkIncludes, parseBenchArgs, type BenchArgs } from './args';
import { checkKernels } from './kernelChecks';
import { emptyBenchFile, NO_ADAPTER, printBenchFile, writeBenchFile, type BenchFile } from './report';
import { benchmarkStep } from '../perf/stepBenchmark';

/**
 * The benchmark in Node: WebGPU through Dawn (and the CPU backend if asked). `npm run bench` runs
 * it in a child process; on a GPU machine it runs alone, as the bundle that ../shared/gpu/pack.sh
 * packs (see docs/PERFORMANCE.md).
 */
export async function runNode(args: BenchArgs, file: BenchFile): Promise<void> {
  for (const backend of args.backends) {
    if (backend === 'webgl') continue;
    if (backend === 'webgpu') {
      await installNodeWebGpu();
      const { navigator } = globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } };
      if (!(await navigator.gpu.requestAdapter())) {
        const e = new Error('no WebGPU adapter in Node (Dawn found no Vulkan driver)');
        (e as Error & { exitCode: number }).exitCode = NO_ADAPTER;
        throw e;
      }
    }
    if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend could not start`);
    await tf.ready();
    if (backend === 'cpu') Object.assign(tf.backend(), { firstUse: false });
    useCustomKernels(true);
    if (args.check) {
      if (backend !== 'webgpu') continue;
      const checks = await checkKernels({ trainingStepIncludes: checkIncludes(args) });
      file.checks.push({ where: 'node', backend, checks });
      // With --count-only too, the dispatch counts follow (on the pipelines the checks compiled).
      if (!args.countOnly) continue;
    }
    for (const preset of args.presets) {
      const result = await benchmarkStep({ ...benchOptionsOf(args, preset), log: (l) => console.error(`  node ${l}`) });
      file.runs.push({ where: 'node', result });
    }
  }
}

/** The Node benchmark as a command (`npm run bench` runs it in a child process); resolves with the exit status. */
export async function benchNodeCommand(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, parseBenchArgs, BENCH_USAGE);
  if (typeof args === 'number') return args;
  const file = emptyBenchFile(`bench (node) ${argv.join(' ')}`);
  try {
    await runNode(args, file);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    console.error(`error: ${(e as Error).message}`);
    if (code) return code;
    file.errors.push(String((e as Error).stack ?? e));
  }
  if (args.resultFile) {
    await writeFile(args.resultFile, JSON.stringify(file));
  } else {
    printBenchFile(file);
    console.log(`results: ${await writeBenchFile(args.out, file, 'node')}`);
  }
  if (file.errors.length) return 1;
  return file.checks.some((c) => c.checks.some((k) => !k.passed)) ? 1 : 0;
}
