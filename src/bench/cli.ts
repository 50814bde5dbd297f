import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USAGE, benchArgv, parseBenchArgs, type BenchArgs } from './args';
import { runChromium } from './chromium';
import { parseCommandLine, runMain } from '../util/runMain';
import { emptyBenchFile, NO_ADAPTER, prepareBenchFolder, printBenchFile, writeBenchFile, type BenchFile } from './report';

/** Dawn on Chromium's SwiftShader: WebGPU in Node without a GPU (the README's variables). */
const SWIFTSHADER_ENV = {
  LD_LIBRARY_PATH: '/usr/lib/chromium',
  VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
};

const NODE_ENTRY = fileURLToPath(new URL('./nodeMain.ts', import.meta.url));

/**
 * Runs the Node benchmark in a child process: Dawn picks its Vulkan driver when the process
 * starts, so when the machine's default finds no adapter, it runs again on SwiftShader.
 */
async function runNodeChild(args: BenchArgs, file: BenchFile): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'moco-bench-node-'));
  const resultFile = join(dir, 'result.json');
  const attempt = (env: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', NODE_ENTRY, ...benchArgv(args, { resultFile, where: ['node'] })], {
        env: { ...process.env, ...env },
        maxBuffer: 64 << 20,
      });
      child.stdout?.pipe(process.stderr);
      child.stderr?.pipe(process.stderr);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  try {
    let code = await attempt({});
    if (code === NO_ADAPTER && existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES) && !process.env.VK_ICD_FILENAMES) {
      console.error('bench: no WebGPU adapter in Node; running on SwiftShader (CPU)');
      code = await attempt(SWIFTSHADER_ENV);
    }
    if (!existsSync(resultFile)) {
      file.errors.push(`node: the benchmark exited with status ${code} and no results`);
      return;
    }
    const child = JSON.parse(await readFile(resultFile, 'utf8')) as BenchFile;
    file.runs.push(...child.runs);
    file.checks.push(...child.checks);
    file.errors.push(...child.errors);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, parseBenchArgs, BENCH_USAGE);
  if (typeof args === 'number') return args;
  const outProblem = await prepareBenchFolder(args.out);
  if (outProblem) {
    console.error(`error: ${outProblem}`);
    return 2;
  }
  const file = emptyBenchFile(`npm run bench -- ${argv.join(' ')}`.trim());
  if (args.where.includes('node')) await runNodeChild(args, file);
  if (args.where.includes('chromium')) {
    try {
      await runChromium(args, file, (line) => console.error(`  chromium ${line}`));
    } catch (e) {
      file.errors.push(`chromium: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  printBenchFile(file);
  console.log(`results: ${await writeBenchFile(args.out, file, args.check ? 'check' : args.where.join('-'))}`);
  if (file.errors.length) return 1;
  return file.checks.some((c) => c.checks.some((k) => !k.passed)) ? 1 : 0;
}

runMain(main);
