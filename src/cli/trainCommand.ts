import * as tf from '@tensorflow/tfjs';
import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateSynthetic } from '../data/synthetic';
import { optInKernelNames, useCustomKernels } from '../kernels/registry';
import { CheckpointError, datasetIdentity, datasetMismatch, emptyHistory, restoreTrainer, type Checkpoint, type RunHistory } from '../train/checkpoint';
import { finalFigures } from '../train/finalFigures';
import { Trainer } from '../train/trainer';
import { singleLabelWarning, type ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { firstImages } from '../data/summary';
import { BUILT_IN_EVAL, DEFAULT_BUILT_IN_SIZE, parseTrainArgs, stepsFor, USAGE, type TrainArgs } from './args';
import { CheckpointWriter, readCheckpointFile, resumeCommand, resumedArgs, StopSignals } from './checkpointing';
import { loadDataPath } from './dataFiles';
import { initEncoders, InitError } from './initWeights';
import { JsonLog } from './jsonLog';
import { Recorder } from './recorder';
import { checkCheckpointPath, checkOutputs, saveModel } from './outputs';
import { startNodeBackend } from '../util/nodeWebgpu';
import { parseCommandLine } from '../util/runMain';
import { runSweep, type SweepRun } from './sweep';
import { knnEvaluator, runTrainingLoop } from './trainLoop';

/** `npm run train`: the headless trainer; resolves with the exit status. */
export async function trainCommand(argv: string[], sweepRun?: SweepRun): Promise<number> {
  const parsed = parseCommandLine(argv, parseTrainArgs, USAGE);
  if (typeof parsed === 'number') return parsed;
  let args = parsed;
  if (args.sweep) {
    JsonLog.empty(args.logJson);
    return runSweep(argv, args.sweep, trainCommand);
  }
  let resumed: Checkpoint | undefined;
  if (args.resume) {
    try {
      resumed = await readCheckpointFile(args.resume);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      console.error(`error: ${e.message}`);
      return 1;
    }
    args = resumedArgs(args, resumed);
  }
  const checkpointPath = args.checkpoint ?? args.resume;
  if (checkpointPath) {
    try {
      await access(dirname(checkpointPath), constants.W_OK);
    } catch {
      console.error(`error: cannot write the checkpoint ${checkpointPath}: its folder ${dirname(checkpointPath)} does not exist or is not writable`);
      return 1;
    }
  }
  // Output paths are checked before any work: a run must never train to the end and then fail to save.
  try {
    if (checkpointPath) await checkCheckpointPath(checkpointPath, args.checkpoint ? '--checkpoint' : '--resume');
    await checkOutputs(args);
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
    // A resumed run reads its recorded paths: the data may have moved (another machine).
    const recorded = resumed && !args.given.has('data') && !args.given.has('eval') ? ` (the path recorded in ${resumed.file}; give --data or --eval with where it is now)` : '';
    console.error(`error: ${e.message}${recorded}`);
    return 1;
  }
  const { train: dataset, heldOut } = data;
  for (const warning of data.warnings) console.error(`warning: ${warning}`);
  if (dataset.size < args.config.batchSize) {
    console.error(`error: --batch ${args.config.batchSize} is more than the ${dataset.size} training images of ${dataset.name}\n\n${USAGE}`);
    return 2;
  }
  // The backend starts once the options, paths and data are known good: a refused run prints only its error.
  const backend = await startNodeBackend(args.backend);
  if ('error' in backend) {
    console.error(`error: ${backend.error}`);
    return 1;
  }
  console.log(backend.line);
  useCustomKernels(!args.stockKernels, { include: args.include });
  if (args.include.length) {
    // The opt-ins are WebGPU kernels: say which of them this run really uses.
    const here = args.stockKernels ? new Set<string>() : new Set(optInKernelNames(tf.getBackend()));
    const used = args.include.filter((name) => here.has(name));
    const unused = args.include.filter((name) => !here.has(name));
    if (used.length) console.log(`opt-in kernels on: ${used.join(', ')}`);
    if (unused.length) console.log(`opt-in kernels not used ${args.stockKernels ? 'with --stock-kernels' : `on the ${tf.getBackend()} backend (they are WebGPU's)`}: ${unused.join(', ')}`);
  }
  const identity = checkpointPath || args.record ? await datasetIdentity(dataset) : undefined;
  const batchesPerEpoch = Math.floor(dataset.size / args.config.batchSize);
  let steps = stepsFor(args.length, batchesPerEpoch);
  let trainer: Trainer;
  let history: RunHistory;
  if (resumed) {
    const { manifest, file } = resumed;
    const mismatch = datasetMismatch(manifest.setup.dataset, identity!);
    if (mismatch) {
      console.error(
        `error: ${args.data ?? 'the built-in data'} is not the data ${file} was trained on (${manifest.setup.dataset.name}, ${manifest.setup.dataset.size} images): ${mismatch}`,
      );
      return 1;
    }
    const lengthGiven = args.given.has('steps') || args.given.has('epochs');
    steps = lengthGiven ? steps : manifest.setup.config.schedule.totalSteps;
    if (steps < manifest.step) {
      console.error(`error: ${file} has already trained ${manifest.step} steps, more than the ${steps} asked for: give a larger --steps or --epochs`);
      return 2;
    }
    if (steps === manifest.step) console.log(`${file} has trained its ${steps} steps: give a larger --steps or --epochs to train on`);
    trainer = restoreTrainer(resumed, dataset, { totalSteps: steps });
    history = manifest.history;
    console.log(`resuming ${file}: step ${manifest.step} of ${steps} (epoch ${manifest.epoch.toFixed(3)}), saved ${manifest.savedAt}`);
  } else {
    trainer = new Trainer({ ...args.config, schedule: { ...args.config.schedule, totalSteps: steps } }, dataset);
    history = emptyHistory();
  }
  const config = trainer.config;
  const firstStep = trainer.moco.stepCount;
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
  // A resumed run continues its log; every run of a sweep appends to the sweep's file.
  if (!resumed && !sweepRun) JsonLog.empty(args.logJson);
  const log = new JsonLog(args.logJson, sweepRun?.tag);
  log.write({ kind: resumed ? 'resume' : 'setup', config, steps, fromStep: firstStep, dataset: { name: dataset.name, size: dataset.size, classes: dataset.classNames.length }, heldOut: heldOut && { name: heldOut.name, size: heldOut.size }, backend: tf.getBackend() });
  const recorder = args.record ? new Recorder(args.record, log, history) : undefined;
  const evaluate = knnEvaluator(trainer, heldOut, args, history, log);
  const checkpoint = new CheckpointWriter(checkpointPath, { trainer, identity, history, args, log });
  const outputs = [args.save && `--save ${args.save}`, args.record && `--record ${args.record}`].filter(Boolean).join(' and ');
  const signals = new StopSignals(checkpointPath, sweepRun ? undefined : outputs || undefined);

  if (!resumed) await evaluate(0);
  const started = performance.now();
  const loop = await runTrainingLoop(trainer, steps, args, { log, evaluate, checkpoint, signals });
  if (loop.kind === 'exit') return loop.code;
  const { stepMs, tail, blowUps, stoppedBy } = loop;
  const planned = steps;
  if (stoppedBy) steps = trainer.moco.stepCount;
  const ran = steps - firstStep;
  const wallSeconds = (performance.now() - started) / 1000;
  console.log(
    `trained ${ran} steps${resumed && ran > 0 ? ` (${firstStep + 1}–${steps})` : ''} (${(ran / trainer.batchesPerEpoch).toFixed(2)} epochs) in ${(stepMs / 1000).toFixed(1)} s of steps ` +
      `(${stepMs > 0 ? ((ran * config.batchSize * 1000) / stepMs).toFixed(1) : '–'} img/s), ${wallSeconds.toFixed(1)} s with evaluations`,
  );
  if (blowUps > 1) console.error(`warning: the loss was far above ln(K+1) at ${blowUps} of ${steps} steps`);
  const final = await evaluate(steps);
  sweepRun?.report({
    steps,
    ...finalFigures(tail, steps),
    knn: final?.accuracy,
    seconds: stepMs / 1000,
  });
  if (final) {
    console.log(
      `knn${final.output === 'head' ? ' (head)' : ''} per class: ${final.perClass.map((c, k) => `${dataset.classNames[k]} ${c.total > 0 ? `${(100 * c.accuracy).toFixed(1)}%` : '–'}`).join(', ')}`,
    );
  }
  // A checkpoint that cannot be written does not cost the exported model: --save still runs.
  const saved = await checkpoint.save();
  const recorded = recorder ? await recorder.write({ trainer, checkpoint: await checkpoint.encode(), dataset: identity!, heldOut, backend, argv, stepMs }) : true;
  if (checkpointPath && saved) {
    console.log(`checkpoint: ${checkpointPath} (step ${steps}; ${resumeCommand(checkpointPath, args)} --steps N continues it)`);
  }
  signals.dispose();
  if (args.save) await saveModel({ ...args, save: args.save }, trainer, final ? { step: steps, accuracy: final.accuracy, k: final.k } : null);
  trainer.dispose();
  if (stoppedBy) {
    console.log(`stopped by ${stoppedBy} after step ${steps} of ${planned}; ${outputs} written (with --checkpoint, a stopped run can be resumed)`);
    return saved && recorded ? (stoppedBy === 'SIGINT' ? 130 : 143) : 1;
  }
  return saved && recorded ? 0 : 1;
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
  // Images of one label only (a CIFAR file of one class, --train-size within the first class): as the app says it.
  const single = singleLabelWarning(train);
  if (single) warnings.push(single);
  if (!args.eval) return { train, warnings };
  if (args.eval === BUILT_IN_EVAL) {
    return { train, heldOut: generateSynthetic({ size: args.evalSize ?? 1000, seed: args.config.seed, split: 'test' }), warnings };
  }
  const heldOut = firstImages(await load(args.eval, 'test'), args.evalSize ?? Infinity);
  const mismatch = classMismatch(heldOut.classNames, train.classNames);
  if (mismatch) {
    throw new DatasetError(
      args.eval,
      `${mismatch} the training data (${train.name}): kNN needs the same classes. Give --eval the held-out images of --data's dataset ` +
        `(CIFAR-10's test_batch.bin with its data_batch files, CIFAR-100's test.bin with its train.bin, an image folder with the same class folders)`,
    );
  }
  return { train, heldOut, warnings };
}

/** How the held-out set's classes differ from the training set's (as a start of a sentence), or null when they are the same. */
function classMismatch(heldOut: readonly string[], train: readonly string[]): string | null {
  if (heldOut.length !== train.length) return `has ${heldOut.length} classes but ${train.length} in`;
  const i = heldOut.findIndex((name, k) => name !== train[k]);
  return i < 0 ? null : `has class ${i + 1} '${heldOut[i]}' where it is '${train[i]}' in`;
}
