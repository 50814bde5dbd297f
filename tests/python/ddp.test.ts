import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCifar } from '../../src/data/cifar';
import { firstImages } from '../../src/data/summary';
import { metadataProblems, modelBundleZip, unzipBundle } from '../../src/io/modelBundle';
import { readSafetensors } from '../../src/io/safetensors';
import { mocoConfig } from '../../src/moco/config';
import { Trainer } from '../../src/train/trainer';
import { REPO_ROOT, relativeError, SHARED, useCpuBackend } from '../support/helpers';
import { torchPython } from '../support/python';

const run = promisify(execFile);
const CIFAR = resolve(SHARED, 'data/cifar10');

async function command(file: string, args: string[], timeout = 300_000) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: REPO_ROOT, timeout, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const train = (args: string[]) => command(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', ...args]);

/** Learnable parameters only: batch-norm running statistics are per process in MoCo's shuffle BN. */
function parameters(path: string) {
  return new Map([...readSafetensors(readFileSync(path)).tensors].filter(([name]) => !/running_(mean|var)$/.test(name)));
}

let python: string;
beforeAll(async () => {
  python = torchPython();
  await useCpuBackend();
});

/** torchrun on two CPU processes; --redirects/--tee 1: Debian's torch 1.13 on Python 3.11 cannot parse their default, 0. */
const torchrun = (args: string[]) =>
  command(python, ['-m', 'torch.distributed.run', '--nproc_per_node=2', `--master_port=${20_000 + Math.floor(Math.random() * 20_000)}`, '--redirects', '1', '--tee', '1', ...args]);

describe('python/train_ddp.py: MoCo on PyTorch DistributedDataParallel (torchrun, gloo on the CPU)', () => {
  it('shuffles the key batch across processes before the momentum encoder and unshuffles it after (shuffle BN)', async () => {
    const r = await torchrun(['tests/python/shuffle_check.py']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const line = /shuffle BN: 2 processes, (\d+) of 16 images encoded on another process/.exec(r.stdout);
    expect(line, r.stdout).not.toBeNull();
    console.log(line![0]);
    expect(Number(line![1])).toBeGreaterThan(0);
  }, 200_000);

  it('continues an exported tiny model on two processes, which agree, and its safetensors opens in the headless trainer (--init)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-ddp-'));
    const cifar = parseCifar(new Uint8Array(readFileSync(join(CIFAR, 'train_10k.bin'))), { fileName: 'train_10k.bin' });
    const trainer = new Trainer(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 32, bnSplits: 2 }), firstImages(cifar, 32));
    await trainer.step();
    const { zip } = await modelBundleZip(trainer.moco.encoderQ, null, trainer.bundleInfo());
    trainer.dispose();
    writeFileSync(join(dir, 'export.zip'), zip);

    const out = join(dir, 'run');
    const ddp = await torchrun([
      'python/train_ddp.py', '--backend', 'gloo', '--init', join(dir, 'export.zip'), '--data', join(CIFAR, 'train_10k.bin'),
      '--batch', '8', '--steps', '4', '--queue', '32', '--log-every', '1', '--out', out, '--save-every-rank',
    ]);
    expect(ddp.code, `${ddp.stdout}\n${ddp.stderr}`).toBe(0);
    console.log(ddp.stdout.split('\n').filter((l) => /MoCo|step|saved/.test(l)).join('\n'));
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; queueFilled: number; queueCapacity: number });
    expect(log.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    for (const r of log) expect(Number.isFinite(r.loss), `loss at step ${r.step}`).toBe(true);
    // Two processes × 8 keys a step: the queue of 32 fills in two steps, then stays full.
    expect(log.map((r) => r.queueFilled)).toEqual([16, 32, 32, 32]);
    expect(log.slice(1).every((r) => r.loss > 0)).toBe(true);

    for (const [a, b] of [['rank0.safetensors', 'rank1.safetensors'], ['rank0-key.safetensors', 'rank1-key.safetensors']]) {
      const p0 = parameters(join(out, a));
      const p1 = parameters(join(out, b));
      expect([...p0.keys()].sort()).toEqual([...p1.keys()].sort());
      let largest = 0;
      for (const [name, t] of p0) largest = Math.max(largest, relativeError(p1.get(name)!.data, t.data));
      console.log(`${a} vs ${b}: largest relative parameter difference ${largest}`);
      expect(largest).toBeLessThanOrEqual(1e-6);
    }
    // Training moved the weights away from the export's.
    const exported = readSafetensors(unzipBundle(zip).get('model.safetensors')!).tensors;
    const trained = parameters(join(out, 'model.safetensors'));
    expect(relativeError(trained.get('stem_conv.weight')!.data, exported.get('stem_conv.weight')!.data)).toBeGreaterThan(1e-4);

    // The headless trainer opens it (the run's folder), evaluates it, and converts it to the app's zip.
    const data = ['--data', join(CIFAR, 'train_10k.bin'), '--train-size', '200', '--eval', join(CIFAR, 'test_1k.bin'), '--eval-size', '100', '--batch', '8'];
    const opened = await train(['--preset', 'tiny', '--init', out, '--steps', '0', ...data, '--save', join(dir, 'converted.zip')]);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toContain(`weights from ${out}`);
    const knn = /knn@200 step 0: ([\d.]+)% \(bank 200, queries 100/.exec(opened.stdout);
    expect(knn, opened.stdout).not.toBeNull();
    console.log(`kNN of the DDP-trained tiny model on 100 held-out images: ${knn![1]}%`);
    const converted = unzipBundle(new Uint8Array(readFileSync(join(dir, 'converted.zip'))));
    expect(metadataProblems(JSON.parse(new TextDecoder().decode(converted.get('metadata.json'))))).toEqual([]);
    const reconverted = readSafetensors(converted.get('model.safetensors')!).tensors;
    for (const [name, t] of trained) expect(relativeError(reconverted.get(name)!.data, t.data), name).toBe(0);

    // A model of another preset is refused, saying what differs.
    const refused = await train(['--preset', 'resnet8', '--init', join(out, 'model.safetensors'), '--steps', '0', ...data]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: --init ${join(out, 'model.safetensors')} holds tiny (widths 4/8, blocks 1/1), MLP head (MoCo v2), 128-d embedding, but this run builds resnet8`);
  }, 400_000);

  it('refuses a missing or foreign --init, --data or --resume naming the file and what it takes, without a traceback', async () => {
    const ddp = (args: string[]) => command(python, ['python/train_ddp.py', '--out', join(mkdtempSync(join(tmpdir(), 'moco-ddp-bad-')), 'run'), ...args]);
    const data = join(CIFAR, 'train_10k.bin');
    // What this script reads of a checkpoint: its zip entries' names and the manifest's step.
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'moco-ddp-ckpt-')), 'run.zip');
    writeFileSync(checkpoint, zipSync({ 'manifest.json': strToU8(JSON.stringify({ format: 'moco-checkpoint', step: 7 })), 'tensors.bin': new Uint8Array(0) }));
    const cases: [string[], string][] = [
      [['--init', 'missing.zip', '--data', data], "error: --init missing.zip: no such file or folder; give the app's downloaded zip, a --save directory or a .safetensors file"],
      [['--init', 'README.md', '--data', data], 'error: --init README.md: not a model this script reads ('],
      [['--init', 'python', '--data', data], `error: --init python: no such file (${join('python', 'model.safetensors')})`],
      [['--data', 'missing.bin'], 'error: --data missing.bin: no such file or folder'],
      [['--resume', 'missing.pt', '--data', data], 'error: --resume missing.pt: no such file or folder'],
      [['--init', checkpoint, '--data', data], `error: --init ${checkpoint}: a checkpoint of npm run train (or a run the app saved), not exported weights; export its query and momentum encoders with: npm run train -- --resume ${checkpoint} --steps 7 --save DIR --save-key`],
    ];
    for (const [args, message] of cases) {
      const r = await ddp(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr, args.join(' ')).not.toContain('Traceback');
    }
  }, 120_000);

  it("takes the exported momentum encoder (the download's key/, --save-key) as its key encoder, instead of a copy of the query encoder", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moco-ddp-key-'));
    const cifar = parseCifar(new Uint8Array(readFileSync(join(CIFAR, 'train_10k.bin'))), { fileName: 'train_10k.bin' });
    // m 0.5: after two steps the momentum encoder trails the query encoder measurably.
    const trainer = new Trainer(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 32, bnSplits: 2, momentum: 0.5 }), firstImages(cifar, 32));
    await trainer.step();
    await trainer.step();
    const { zip } = await modelBundleZip(trainer.moco.encoderQ, trainer.moco.encoderK, trainer.bundleInfo());
    trainer.dispose();
    writeFileSync(join(dir, 'export.zip'), zip);
    const files = unzipBundle(zip);
    const exportedKey = readSafetensors(files.get('key/model.safetensors')!).tensors;
    const exportedQuery = readSafetensors(files.get('model.safetensors')!).tensors;
    expect(relativeError(exportedKey.get('stem_conv.weight')!.data, exportedQuery.get('stem_conv.weight')!.data)).toBeGreaterThan(1e-5);

    // No step: key.safetensors is the momentum encoder as training starts from it.
    const out = join(dir, 'run');
    const ddp = await torchrun([
      'python/train_ddp.py', '--backend', 'gloo', '--init', join(dir, 'export.zip'), '--data', join(CIFAR, 'train_10k.bin'),
      '--batch', '8', '--steps', '0', '--queue', '32', '--out', out,
    ]);
    expect(ddp.code, `${ddp.stdout}\n${ddp.stderr}`).toBe(0);
    const started = readSafetensors(readFileSync(join(out, 'key.safetensors'))).tensors;
    // Every tensor, batch-norm running statistics included, as exported.
    expect([...started.keys()].sort()).toEqual([...exportedKey.keys()].sort());
    for (const [name, t] of exportedKey) expect(relativeError(started.get(name)!.data, t.data), name).toBe(0);
  }, 300_000);
});
