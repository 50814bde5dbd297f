import { appendFileSync } from 'node:fs';
import { access, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateSynthetic } from '../data/synthetic';
import { exportEncoder, WEIGHTS_FILE, type LayersModelFiles } from '../io/layersModel';
import { useCustomKernels } from '../kernels/registry';
import { Trainer } from '../train/trainer';
import type { ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { firstImages } from '../data/summary';
import { knnMonitorOutputs } from '../eval/monitor';
import { BUILT_IN_EVAL, DEFAULT_BUILT_IN_SIZE, parseTrainArgs, stepsFor, USAGE, UsageError, type TrainArgs } from './args';
import { fsCall, loadDataPath } from './dataFiles';
import { checkStep, CLI_KNOBS } from '../train/divergence';
import { installNodeWebGpu } from '../util/nodeWebgpu';
import { parseCommandLine } from '../util/runMain';

/** `npm run train`: the headless trainer; resolves with the exit status. */
export async function trainCommand(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, parseTrainArgs, USAGE, UsageError);
  if (typeof args === 'number') return args;
  if (args.backend === 'webgpu') await installNodeWebGpu();
  if (!(await tf.setBackend(args.backend))) {
    console.error(`error: the ${args.backend} backend could not start${args.backend === 'webgpu' ? ' (no WebGPU adapter: see README for Dawn on SwiftShader or a GPU)' : ''}`);
    return 1;
  }
  await tf.ready();
  // tfjs-cpu greets Node users with advice to install tfjs-node, whose install downloads a native
  // binary: this project stays pure JavaScript (plus Dawn), so the greeting is noise here.
  if (args.backend === 'cpu') Object.assign(tf.backend(), { firstUse: false });
  useCustomKernels(!args.stockKernels);

  // Output paths are checked before any work: a run must never train to the end and then fail to save.
  try {
    if (args.save) await checkOutputFolder(args.save, '--save');
    if (args.save && args.saveKey) await checkOutputFolder(join(args.save, 'key'), '--save-key');
    if (args.logJson) await fsCall(args.logJson, () => writeFile(args.logJson!, ''));
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }

  let data;
  try {
    data = await loadData(args);
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
  const { train: dataset, heldOut } = data;
  for (const warning of data.warnings) console.error(`warning: ${warning}`);
  if (dataset.size < args.config.batchSize) {
    console.error(`error: --batch ${args.config.batchSize} is more than the ${dataset.size} training images of ${dataset.name}\n\n${USAGE}`);
    return 2;
  }
  const steps = stepsFor(args.length, Math.floor(dataset.size / args.config.batchSize));
  const config = { ...args.config, schedule: { ...args.config.schedule, totalSteps: steps } };
  const trainer = new Trainer(config, dataset);
  console.log(
    `MoCo ${config.arch.head === 'mlp' ? 'v2' : 'v1'} · ${config.arch.widths.join('/')} widths, ${trainer.moco.encoderQ.parameterCount().toLocaleString('en')} parameters · ` +
      `batch ${config.batchSize} · K ${config.queueSize} · m ${config.momentum} · T ${config.temperature} · backend ${tf.getBackend()} · ${dataset.size} images`,
  );
  console.log(
    `data: ${dataset.name}, ${dataset.size} images in ${dataset.classNames.length} classes · ${steps} steps (${(steps / trainer.batchesPerEpoch).toFixed(2)} epochs)` +
      (heldOut ? ` · kNN on ${heldOut.name}, ${heldOut.size} images` : ''),
  );
  // Written synchronously, a line at a time, so that a run cut short keeps every line it printed.
  const logJson = (record: object) => {
    if (args.logJson) appendFileSync(args.logJson, `${JSON.stringify(record)}\n`);
  };
  logJson({ kind: 'setup', config, steps, dataset: { name: dataset.name, size: dataset.size, classes: dataset.classNames.length }, heldOut: heldOut && { name: heldOut.name, size: heldOut.size }, backend: tf.getBackend() });
  const evaluate = async (step: number) => {
    if (!heldOut) return;
    const reports = await knnMonitorOutputs(trainer.moco.encoderQ, dataset, heldOut, config.augment, args.knnOn);
    for (const r of reports) {
      logJson({ kind: 'knn', step, output: r.output, k: r.k, accuracy: r.accuracy, bankSize: r.bankSize, queryCount: r.queryCount, seconds: r.seconds });
      console.log(
        `knn@${r.k}${r.output === 'head' ? ' (head)' : ''} step ${step}: ${(100 * r.accuracy).toFixed(1)}% (bank ${r.bankSize}, queries ${r.queryCount}, ${r.seconds.toFixed(1)} s)`,
      );
    }
    return reports[0];
  };
  await evaluate(0);
  console.log('step   epoch    loss  ctr-acc  pos-sim  neg-sim   queue       lr   img/s');
  let lastLine = '';
  let blowUps = 0;
  const started = performance.now();
  let stepMs = 0;
  for (let i = 0; i < steps; i++) {
    const s = await trainer.step();
    stepMs += s.stepMs;
    logJson({ kind: 'step', ...s });
    // The first step compiles every GPU pipeline the step uses: its time is the user's wait to start.
    if (i === 0) console.log(`first step: ${s.stepMs.toFixed(0)} ms (includes compiling the step's kernels)`);
    // Every step, not only the logged ones: the statistics are on the CPU already.
    const verdict = checkStep(s, CLI_KNOBS, args.defaultLr);
    if (verdict.kind === 'blow-up' && blowUps++ === 0) console.error(`warning: ${verdict.message}`);
    if (s.step % args.logEvery === 0 || s.step === steps || verdict.kind === 'non-finite') {
      lastLine =
        `${String(s.step).padStart(4)} ${s.epoch.toFixed(3).padStart(7)} ${s.loss.toFixed(4).padStart(7)} ${(100 * s.contrastiveAccuracy).toFixed(1).padStart(7)}% ` +
        `${s.meanPositiveSimilarity.toFixed(3).padStart(8)} ${s.meanNegativeSimilarity.toFixed(3).padStart(8)} ` +
        `${`${s.queueFilled}/${s.queueCapacity}`.padStart(11)} ${s.learningRate.toExponential(2).padStart(8)} ${s.imagesPerSecond.toFixed(1).padStart(7)}`;
      console.log(lastLine);
    }
    if (verdict.kind === 'non-finite') {
      console.error(`error: ${verdict.message}. Nothing was saved.`);
      trainer.dispose();
      return 1;
    }
    if (args.evalEvery !== undefined && s.step % args.evalEvery === 0 && s.step !== steps) await evaluate(s.step);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  console.log(
    `trained ${steps} steps (${(steps / trainer.batchesPerEpoch).toFixed(2)} epochs) in ${(stepMs / 1000).toFixed(1)} s of steps ` +
      `(${((steps * config.batchSize * 1000) / stepMs).toFixed(1)} img/s), ${wallSeconds.toFixed(1)} s with evaluations`,
  );
  if (blowUps > 1) console.error(`warning: the loss was far above ln(K+1) at ${blowUps} of ${steps} steps`);
  const final = await evaluate(steps);
  if (final) {
    console.log(
      `knn${final.output === 'head' ? ' (head)' : ''} per class: ${final.perClass.map((c, k) => `${dataset.classNames[k]} ${c.total > 0 ? `${(100 * c.accuracy).toFixed(1)}%` : '–'}`).join(', ')}`,
    );
  }
  if (args.save) {
    await writeLayersModel(args.save, await exportEncoder(trainer.moco.encoderQ, 'moco_query_encoder'));
    if (args.saveKey) await writeLayersModel(join(args.save, 'key'), await exportEncoder(trainer.moco.encoderK, 'moco_key_encoder'));
    console.log(`saved the query encoder${args.saveKey ? ' and the momentum encoder (key/)' : ''} to ${args.save}`);
  }
  trainer.dispose();
  return 0;
}

/** The training set and the held-out set of the command line; DatasetError names the file at fault. */
async function loadData(args: TrainArgs): Promise<{ train: ImageDataset; heldOut?: ImageDataset; warnings: string[] }> {
  const warnings: string[] = [];
  const load = async (path: string, split: 'train' | 'test') => {
    const loaded = await loadDataPath(path, { labels: args.labels, split });
    warnings.push(...(loaded.warnings ?? []));
    return loaded;
  };
  const train = args.data
    ? firstImages(await load(args.data, 'train'), args.trainSize ?? Infinity)
    : generateSynthetic({ size: args.trainSize ?? DEFAULT_BUILT_IN_SIZE, seed: args.config.seed, split: 'train' });
  if (!args.eval) return { train, warnings };
  if (args.eval === BUILT_IN_EVAL) {
    return { train, heldOut: generateSynthetic({ size: args.evalSize ?? 1000, seed: args.config.seed, split: 'test' }), warnings };
  }
  const heldOut = firstImages(await load(args.eval, 'test'), args.evalSize ?? Infinity);
  if (heldOut.classNames.length !== train.classNames.length) {
    throw new DatasetError(
      args.eval,
      `has ${heldOut.classNames.length} classes but the training data (${train.name}) has ${train.classNames.length}: kNN needs the same classes`,
    );
  }
  return { train, heldOut, warnings };
}

/**
 * Makes sure `dir` is a folder this process can write (creating it if needed), before training:
 * an existing file there, a path under a file, or a read-only place is reported now.
 */
async function checkOutputFolder(dir: string, option: string): Promise<void> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new DatasetError(dir, `is a file, but ${option} needs a folder (it writes model.json and weights.bin into it): give a new or existing folder`);
  }
  try {
    await fsCall(dir, () => mkdir(dir, { recursive: true }));
    await fsCall(dir, () => access(dir, constants.W_OK));
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    throw new DatasetError(e.file, `${e.problem} — ${option} cannot write there; give another folder`);
  }
}

async function writeLayersModel(dir: string, files: LayersModelFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), files.modelJson);
  await writeFile(join(dir, WEIGHTS_FILE), new Uint8Array(files.weights));
}
