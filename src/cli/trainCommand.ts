import { appendFileSync, writeFileSync } from 'node:fs';
import { access, appendFile, constants, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateSynthetic } from '../data/synthetic';
import { modelBundleFiles, modelBundleZip } from '../io/modelBundle';
import { useCustomKernels } from '../kernels/registry';
import {
  CheckpointError,
  datasetIdentity,
  datasetMismatch,
  decodeCheckpoint,
  emptyHistory,
  encodeCheckpoint,
  restoreTrainer,
  type Checkpoint,
  type RunHistory,
} from '../train/checkpoint';
import { Trainer } from '../train/trainer';
import type { ImageDataset } from '../data/dataset';
import { DatasetError } from '../data/errors';
import { firstImages } from '../data/summary';
import { knnMonitorOutputs } from '../eval/monitor';
import { BUILT_IN_EVAL, DEFAULT_BUILT_IN_SIZE, parseTrainArgs, stepsFor, USAGE, type TrainArgs } from './args';
import { fsCall, loadDataPath } from './dataFiles';
import { initEncoders, InitError } from './initWeights';
import { checkStep, CLI_KNOBS } from '../train/divergence';
import { startNodeBackend } from '../util/nodeWebgpu';
import { parseCommandLine } from '../util/runMain';
import { runSweep, type SweepRun } from './sweep';

/** `npm run train`: the headless trainer; resolves with the exit status. */
export async function trainCommand(argv: string[], sweepRun?: SweepRun): Promise<number> {
  const parsed = parseCommandLine(argv, parseTrainArgs, USAGE);
  if (typeof parsed === 'number') return parsed;
  let args = parsed;
  if (args.sweep) {
    if (args.logJson) writeFileSync(args.logJson, '');
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
    if (args.save?.endsWith('.zip')) await checkOutputFile(args.save, '--save');
    else if (args.save) await checkOutputFolder(args.save, '--save');
    if (args.save && !args.save.endsWith('.zip') && args.saveKey) await checkOutputFolder(join(args.save, 'key'), '--save-key');
    // Appending nothing checks that the file can be written without emptying a resumed run's log.
    if (args.logJson) await fsCall(args.logJson, () => appendFile(args.logJson!, ''));
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
  useCustomKernels(!args.stockKernels);
  const identity = checkpointPath ? await datasetIdentity(dataset) : undefined;
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
  // Written synchronously, a line at a time, so that a run cut short keeps every line it printed.
  // Every run of a sweep appends to the same file, its records tagged with the swept value.
  const logJson = (record: object) => {
    if (args.logJson) appendFileSync(args.logJson, `${JSON.stringify(sweepRun ? { run: sweepRun.tag, ...record } : record)}\n`);
  };
  // A resumed run continues its log; every run of a sweep appends to the sweep's file.
  if (args.logJson && !resumed && !sweepRun) writeFileSync(args.logJson, '');
  logJson({ kind: resumed ? 'resume' : 'setup', config, steps, fromStep: firstStep, dataset: { name: dataset.name, size: dataset.size, classes: dataset.classNames.length }, heldOut: heldOut && { name: heldOut.name, size: heldOut.size }, backend: tf.getBackend() });
  const evaluate = async (step: number) => {
    if (!heldOut) return;
    const reports = await knnMonitorOutputs(trainer.moco.encoderQ, dataset, heldOut, config.augment, args.knnOn);
    for (const r of reports) {
      logJson({ kind: 'knn', step, output: r.output, k: r.k, accuracy: r.accuracy, bankSize: r.bankSize, queryCount: r.queryCount, seconds: r.seconds });
      history.knn.push({
        step,
        output: r.output,
        k: r.k,
        accuracy: r.accuracy,
        perClass: r.perClass.map((c) => (c.total > 0 ? c.accuracy : null)),
        bankSize: r.bankSize,
        queryCount: r.queryCount,
        seconds: r.seconds,
      });
      console.log(
        `knn@${r.k}${r.output === 'head' ? ' (head)' : ''} step ${step}: ${(100 * r.accuracy).toFixed(1)}% (bank ${r.bankSize}, queries ${r.queryCount}, ${r.seconds.toFixed(1)} s)`,
      );
    }
    return reports[0];
  };
  // Written to a temporary file and renamed over the previous one: a crash mid-write leaves that intact.
  const saveCheckpoint = async (): Promise<boolean> => {
    if (!checkpointPath) return true;
    const bytes = await encodeCheckpoint(trainer, { dataset: identity!, history, client: headlessSettings(args) });
    const temporary = `${checkpointPath}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, checkpointPath);
      return true;
    } catch (e) {
      await rm(temporary, { force: true }).catch(() => {});
      console.error(`error: could not write the checkpoint ${checkpointPath} (${(e as Error).message}); the previous one, if any, is intact`);
      return false;
    }
  };
  // Ctrl-C or SIGTERM: finish the step in flight, save, and say how to go on. Ctrl-C reaches npm and
  // the trainer alike, and npm passes it on, so a repeat within seconds is the same request; a later
  // one stops at once (the last checkpoint written stays as it was).
  let stopSignal: NodeJS.Signals | null = null;
  let stopAsked = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal && performance.now() - stopAsked > 3000) process.exit(signal === 'SIGINT' ? 130 : 143);
    if (stopSignal) return;
    stopSignal = signal;
    stopAsked = performance.now();
    console.log(`${signal}: stopping after this step and saving ${checkpointPath} (again to stop at once)`);
  };
  if (checkpointPath) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const stopHandling = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  if (!resumed) await evaluate(0);
  console.log('step   epoch    loss  ctr-acc  pos-sim  neg-sim   queue       lr   img/s');
  let lastLine = '';
  let blowUps = 0;
  const started = performance.now();
  let stepMs = 0;
  const tail: { loss: number; accuracy: number }[] = [];
  const tailLength = Math.max(1, Math.round(steps / 10));
  while (trainer.moco.stepCount < steps) {
    const s = await trainer.step();
    stepMs += s.stepMs;
    if (s.step > steps - tailLength) tail.push({ loss: s.loss, accuracy: s.contrastiveAccuracy });
    logJson({ kind: 'step', ...s });
    // The first step compiles every GPU pipeline the step uses: its time is the user's wait to start.
    if (s.step === firstStep + 1) console.log(`first step: ${s.stepMs.toFixed(0)} ms (includes compiling the step's kernels)`);
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
      stopHandling();
      console.error(`error: ${verdict.message}. Nothing was saved.`);
      trainer.dispose();
      return 1;
    }
    if (args.evalEvery !== undefined && s.step % args.evalEvery === 0 && s.step !== steps) await evaluate(s.step);
    if (args.checkpointEvery !== undefined && s.step % args.checkpointEvery === 0 && s.step !== steps) await saveCheckpoint();
    // A step's awaits are promise jobs only: yield to the event loop so that a signal is seen.
    await new Promise((resolve) => setImmediate(resolve));
    if (stopSignal && s.step !== steps) {
      const saved = await saveCheckpoint();
      stopHandling();
      trainer.dispose();
      if (!saved) return 1;
      console.log(`stopped by ${stopSignal} after step ${s.step} of ${steps}; the run is saved in ${checkpointPath}. Resume with:`);
      console.log(`  npm run train -- --resume ${shellQuote(checkpointPath!)}${args.backend === 'auto' ? '' : ` --backend ${args.backend}`}`);
      return stopSignal === 'SIGINT' ? 130 : 143;
    }
  }
  const ran = steps - firstStep;
  const wallSeconds = (performance.now() - started) / 1000;
  console.log(
    `trained ${ran} steps${resumed ? ` (${firstStep + 1}–${steps})` : ''} (${(ran / trainer.batchesPerEpoch).toFixed(2)} epochs) in ${(stepMs / 1000).toFixed(1)} s of steps ` +
      `(${stepMs > 0 ? ((ran * config.batchSize * 1000) / stepMs).toFixed(1) : '–'} img/s), ${wallSeconds.toFixed(1)} s with evaluations`,
  );
  if (blowUps > 1) console.error(`warning: the loss was far above ln(K+1) at ${blowUps} of ${steps} steps`);
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
  // A checkpoint that cannot be written does not cost the exported model: --save still runs.
  const saved = await saveCheckpoint();
  if (checkpointPath && saved) {
    console.log(`checkpoint: ${checkpointPath} (step ${steps}; --resume ${shellQuote(checkpointPath)} --steps N continues it)`);
  }
  stopHandling();
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
  return saved ? 0 : 1;
}

/** The headless trainer's settings a resumed run reuses unless its command line gives them again. */
interface HeadlessSettings {
  data?: string;
  labels: TrainArgs['labels'];
  trainSize?: number;
  eval?: string;
  evalEvery?: number;
  evalSize?: number;
  knnOn: TrainArgs['knnOn'];
  checkpointEvery?: number;
}

/** Command-line option of each recorded setting. */
const SETTING_OPTIONS: Record<keyof HeadlessSettings, string> = {
  data: 'data',
  labels: 'labels',
  trainSize: 'train-size',
  eval: 'eval',
  evalEvery: 'eval-every',
  evalSize: 'eval-size',
  knnOn: 'knn-on',
  checkpointEvery: 'checkpoint-every',
};

function headlessSettings(args: TrainArgs): Record<string, unknown> {
  const settings: HeadlessSettings = {
    data: args.data,
    labels: args.labels,
    trainSize: args.trainSize,
    eval: args.eval,
    evalEvery: args.evalEvery,
    evalSize: args.evalSize,
    knnOn: args.knnOn,
    checkpointEvery: args.checkpointEvery,
  };
  return { headless: settings };
}

/** The command line of a resumed run: the checkpoint's setup, and its recorded settings where none are given. */
function resumedArgs(args: TrainArgs, checkpoint: Checkpoint): TrainArgs {
  const recorded = (checkpoint.manifest.client.headless ?? {}) as Partial<HeadlessSettings>;
  const merged: TrainArgs = { ...args, config: checkpoint.manifest.setup.config };
  for (const key of Object.keys(SETTING_OPTIONS) as (keyof HeadlessSettings)[]) {
    if (!args.given.has(SETTING_OPTIONS[key])) Object.assign(merged, { [key]: recorded[key] });
  }
  if (!args.given.has('labels')) merged.labels = recorded.labels ?? 'fine';
  if (!args.given.has('knn-on')) merged.knnOn = recorded.knnOn ?? ['backbone'];
  if (merged.data === undefined && merged.trainSize === undefined) merged.trainSize = checkpoint.manifest.setup.dataset.size;
  return merged;
}

async function readCheckpointFile(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'no such file' : `cannot be read (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}

function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
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

/** Makes sure the zip `file` can be written: not a folder, in a folder this process can write. */
async function checkOutputFile(file: string, option: string): Promise<void> {
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new DatasetError(file, `is a folder, but ${option} with a .zip name writes one file: give another name`);
  await checkOutputFolder(dirname(file), option);
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
