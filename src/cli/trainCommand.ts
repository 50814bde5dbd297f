import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateSynthetic } from '../data/synthetic';
import { modelBundleFiles, modelBundleZip } from '../io/modelBundle';
import { useCustomKernels } from '../kernels/registry';
import { Trainer } from '../train/trainer';
import type { ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { firstImages } from '../data/summary';
import { knnMonitorOutputs } from '../eval/monitor';
import { BUILT_IN_EVAL, DEFAULT_BUILT_IN_SIZE, parseTrainArgs, stepsFor, USAGE, UsageError, type TrainArgs } from './args';
import { loadDataPath } from './dataFiles';
import { initEncoders, InitError } from './initWeights';
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
  if (args.init) {
    try {
      await initEncoders(args.init, trainer.moco.encoderQ, trainer.moco.encoderK);
    } catch (e) {
      trainer.dispose();
      if (!(e instanceof InitError)) throw e;
      console.error(`error: ${e.message}`);
      return 1;
    }
    console.log(`weights from ${args.init}`);
  }
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
  if (args.logJson) writeFileSync(args.logJson, '');
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
  for (let i = 0; i < steps; i++) {
    const s = await trainer.step();
    stepMs += s.stepMs;
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
      `(${stepMs > 0 ? ((steps * config.batchSize * 1000) / stepMs).toFixed(1) : '–'} img/s), ${wallSeconds.toFixed(1)} s with evaluations`,
  );
  const final = await evaluate(steps);
  if (final) {
    console.log(
      `knn${final.output === 'head' ? ' (head)' : ''} per class: ${final.perClass.map((c, k) => `${dataset.classNames[k]} ${c.total > 0 ? `${(100 * c.accuracy).toFixed(1)}%` : '–'}`).join(', ')}`,
    );
  }
  if (args.save) {
    const info = {
      config,
      liveParams: { ...trainer.moco.params },
      step: trainer.moco.stepCount,
      dataset: dataset.name,
      classNames: dataset.classNames,
      knn: final ? { step: steps, accuracy: final.accuracy, k: final.k } : null,
    };
    const encoderK = args.saveKey ? trainer.moco.encoderK : null;
    if (args.save.endsWith('.zip')) {
      const { zip } = await modelBundleZip(trainer.moco.encoderQ, encoderK, info);
      await mkdir(dirname(args.save), { recursive: true });
      await writeFile(args.save, zip);
    } else {
      for (const [path, bytes] of await modelBundleFiles(trainer.moco.encoderQ, encoderK, info)) {
        await mkdir(dirname(join(args.save, path)), { recursive: true });
        await writeFile(join(args.save, path), bytes);
      }
    }
    console.log(`saved the query encoder${args.saveKey ? ' and the momentum encoder (key/)' : ''} to ${args.save} (TensorFlow.js, safetensors, metadata.json)`);
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
