import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
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
import { BUILT_IN_EVAL, DEFAULT_BUILT_IN_SIZE, parseTrainArgs, stepsFor, USAGE, type TrainArgs } from './args';
import { loadDataPath } from './dataFiles';
import { installNodeWebGpu } from '../util/nodeWebgpu';
import { parseCommandLine } from '../util/runMain';
import { runSweep, type SweepRun } from './sweep';

/** `npm run train`: the headless trainer; resolves with the exit status. */
export async function trainCommand(argv: string[], sweepRun?: SweepRun): Promise<number> {
  const args = parseCommandLine(argv, parseTrainArgs, USAGE);
  if (typeof args === 'number') return args;
  if (args.sweep) {
    if (args.logJson) writeFileSync(args.logJson, '');
    return runSweep(argv, args.sweep, trainCommand);
  }
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

  let data;
  try {
    data = await loadData(args);
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
  const { train: dataset, heldOut } = data;
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
  // Every run of a sweep appends to the same file, its records tagged with the swept value.
  const logJson = (record: object) => {
    if (args.logJson) appendFileSync(args.logJson, `${JSON.stringify(sweepRun ? { run: sweepRun.tag, ...record } : record)}\n`);
  };
  if (args.logJson && !sweepRun) writeFileSync(args.logJson, '');
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
  const started = performance.now();
  let stepMs = 0;
  const tail: { loss: number; accuracy: number }[] = [];
  const tailLength = Math.max(1, Math.round(steps / 10));
  for (let i = 0; i < steps; i++) {
    const s = await trainer.step();
    stepMs += s.stepMs;
    if (i >= steps - tailLength) tail.push({ loss: s.loss, accuracy: s.contrastiveAccuracy });
    logJson({ kind: 'step', ...s });
    // The first step compiles every GPU pipeline the step uses: its time is the user's wait to start.
    if (i === 0) console.log(`first step: ${s.stepMs.toFixed(0)} ms (includes compiling the step's kernels)`);
    if (s.step % args.logEvery === 0 || s.step === steps) {
      lastLine =
        `${String(s.step).padStart(4)} ${s.epoch.toFixed(3).padStart(7)} ${s.loss.toFixed(4).padStart(7)} ${(100 * s.contrastiveAccuracy).toFixed(1).padStart(7)}% ` +
        `${s.meanPositiveSimilarity.toFixed(3).padStart(8)} ${s.meanNegativeSimilarity.toFixed(3).padStart(8)} ` +
        `${`${s.queueFilled}/${s.queueCapacity}`.padStart(11)} ${s.learningRate.toExponential(2).padStart(8)} ${s.imagesPerSecond.toFixed(1).padStart(7)}`;
      console.log(lastLine);
      if (!Number.isFinite(s.loss)) {
        console.error('error: the loss is not finite');
        return 1;
      }
    }
    if (args.evalEvery !== undefined && s.step % args.evalEvery === 0 && s.step !== steps) await evaluate(s.step);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  console.log(
    `trained ${steps} steps (${(steps / trainer.batchesPerEpoch).toFixed(2)} epochs) in ${(stepMs / 1000).toFixed(1)} s of steps ` +
      `(${((steps * config.batchSize * 1000) / stepMs).toFixed(1)} img/s), ${wallSeconds.toFixed(1)} s with evaluations`,
  );
  const final = await evaluate(steps);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  sweepRun?.report({
    steps,
    finalLoss: mean(tail.map((t) => t.loss)),
    finalContrastiveAccuracy: mean(tail.map((t) => t.accuracy)),
    knn: final?.accuracy,
    seconds: stepMs / 1000,
  });
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
async function loadData(args: TrainArgs): Promise<{ train: ImageDataset; heldOut?: ImageDataset }> {
  const train = args.data
    ? firstImages(await loadDataPath(args.data, { labels: args.labels, split: 'train' }), args.trainSize ?? Infinity)
    : generateSynthetic({ size: args.trainSize ?? DEFAULT_BUILT_IN_SIZE, seed: args.config.seed, split: 'train' });
  if (!args.eval) return { train };
  if (args.eval === BUILT_IN_EVAL) {
    return { train, heldOut: generateSynthetic({ size: args.evalSize ?? 1000, seed: args.config.seed, split: 'test' }) };
  }
  const heldOut = firstImages(await loadDataPath(args.eval, { labels: args.labels, split: 'test' }), args.evalSize ?? Infinity);
  if (heldOut.classNames.length !== train.classNames.length) {
    throw new DatasetError(
      args.eval,
      `has ${heldOut.classNames.length} classes but the training data (${train.name}) has ${train.classNames.length}: kNN needs the same classes`,
    );
  }
  return { train, heldOut };
}

async function writeLayersModel(dir: string, files: LayersModelFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), files.modelJson);
  await writeFile(join(dir, WEIGHTS_FILE), new Uint8Array(files.weights));
}
