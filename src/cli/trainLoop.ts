/** The headless trainer's loop: steps, progress lines, the divergence check, kNN evaluations and periodic checkpoints, until the budget or a stop signal. */
import type { ImageDataset } from '../data/dataset';
import { extractFeatures } from '../eval/features';
import { knnMonitorOutputs, type KnnReport } from '../eval/monitor';
import { LinearProbe } from '../eval/probe';
import type { RunHistory } from '../train/checkpoint';
import { checkStep, CLI_KNOBS } from '../train/divergence';
import { tailLength, type StepFigures } from '../train/finalFigures';
import type { Trainer } from '../train/trainer';
import type { TrainArgs } from './args';
import { resumeCommand, type CheckpointWriter, type StopSignals } from './checkpointing';
import type { JsonLog } from './jsonLog';

/**
 * kNN of the held-out images at `step` (nothing without them), and with `--probe-epochs` a linear
 * probe: printed, logged and kept in the run's history; resolves with the first kNN output's report.
 */
export function knnEvaluator(
  trainer: Trainer,
  heldOut: ImageDataset | undefined,
  args: TrainArgs,
  history: RunHistory,
  log: JsonLog,
): (step: number) => Promise<KnnReport | undefined> {
  return async (step) => {
    if (!heldOut) return;
    const reports = await knnMonitorOutputs(trainer.moco.encoderQ, trainer.dataset, heldOut, trainer.config.augment, args.knnOn);
    for (const r of reports) {
      log.write({ kind: 'knn', step, output: r.output, k: r.k, accuracy: r.accuracy, bankSize: r.bankSize, queryCount: r.queryCount, seconds: r.seconds });
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
    if (args.probeEpochs !== undefined) await linearProbe(trainer, heldOut, args.probeEpochs, step, history, log);
    return reports[0];
  };
}

/** The app's linear probe (softmax regression on frozen backbone features of the training set, scored on the held-out images). */
async function linearProbe(trainer: Trainer, heldOut: ImageDataset, epochs: number, step: number, history: RunHistory, log: JsonLog): Promise<void> {
  const start = performance.now();
  const train = trainer.dataset;
  const normalization = trainer.config.augment;
  const trainFeatures = await extractFeatures(trainer.moco.encoderQ, train, normalization);
  const testFeatures = await extractFeatures(trainer.moco.encoderQ, heldOut, normalization).catch((e: unknown) => {
    trainFeatures.dispose();
    throw e;
  });
  try {
    const probe = await LinearProbe.train(trainFeatures, train.labels, { numClasses: train.classNames.length, epochs, seed: trainer.config.seed });
    try {
      const score = await probe.evaluate(testFeatures, heldOut.labels);
      const seconds = (performance.now() - start) / 1000;
      const perClass = score.perClass.map((c) => (c.total > 0 ? c.accuracy : null));
      log.write({ kind: 'probe', step, accuracy: score.accuracy, perClass, epochs, finalLoss: probe.lossHistory.at(-1) ?? null, seconds });
      history.probes.push({ step, accuracy: score.accuracy, perClass, epochs, seconds });
      console.log(`probe step ${step}: ${(100 * score.accuracy).toFixed(1)}% (${epochs} epochs on ${train.size} × ${trainFeatures.shape[1]} features, ${seconds.toFixed(1)} s)`);
    } finally {
      probe.dispose();
    }
  } finally {
    trainFeatures.dispose();
    testFeatures.dispose();
  }
}

/** How the loop ended: the budget reached (with what the summary needs), or an exit status to return now. */
export type LoopOutcome =
  | { kind: 'done'; stepMs: number; tail: StepFigures[]; blowUps: number; stoppedBy?: NodeJS.Signals }
  | { kind: 'exit'; code: number };

/** Trains from the trainer's step up to `steps`. On a non-finite loss or a stop signal, the trainer is disposed and the signals released. */
export async function runTrainingLoop(
  trainer: Trainer,
  steps: number,
  args: TrainArgs,
  run: { log: JsonLog; evaluate: (step: number) => Promise<unknown>; checkpoint: CheckpointWriter; signals: StopSignals },
): Promise<LoopOutcome> {
  const { log, evaluate, checkpoint, signals } = run;
  const firstStep = trainer.moco.stepCount;
  console.log('step   epoch    loss  ctr-acc  pos-sim  neg-sim   queue       lr   img/s');
  let blowUps = 0;
  let stepMs = 0;
  // The steps the final figures average (finalFigures): the last tenth of the run.
  const tail: StepFigures[] = [];
  const fromStep = steps - tailLength(steps);
  while (trainer.moco.stepCount < steps) {
    // The keys the step's loss reads: the queue before the step (its chance level is ln(negatives + 1)).
    const negatives = trainer.moco.queue.filled;
    const s = await trainer.step();
    stepMs += s.stepMs;
    if (s.step > fromStep) tail.push({ loss: s.loss, contrastiveAccuracy: s.contrastiveAccuracy, negatives, keyLag: s.keyLag, keyConsistency: s.keyConsistency });
    log.write({ kind: 'step', ...s });
    // The first step compiles every GPU pipeline the step uses: its time is the user's wait to start.
    if (s.step === firstStep + 1) console.log(`first step: ${s.stepMs.toFixed(0)} ms (includes compiling the step's kernels)`);
    // Every step, not only the logged ones: the statistics are on the CPU already.
    const verdict = checkStep(s, CLI_KNOBS, args.defaultLr);
    if (verdict.kind === 'blow-up' && blowUps++ === 0) console.error(`warning: ${verdict.message}`);
    if (s.step % args.logEvery === 0 || s.step === steps || verdict.kind === 'non-finite') {
      console.log(
        `${String(s.step).padStart(4)} ${s.epoch.toFixed(3).padStart(7)} ${s.loss.toFixed(4).padStart(7)} ${(100 * s.contrastiveAccuracy).toFixed(1).padStart(7)}% ` +
          `${s.meanPositiveSimilarity.toFixed(3).padStart(8)} ${s.meanNegativeSimilarity.toFixed(3).padStart(8)} ` +
          `${`${s.queueFilled}/${s.queueCapacity}`.padStart(11)} ${s.learningRate.toExponential(2).padStart(8)} ${s.imagesPerSecond.toFixed(1).padStart(7)}`,
      );
    }
    if (verdict.kind === 'non-finite') {
      signals.dispose();
      console.error(`error: ${verdict.message}. Nothing was saved.`);
      trainer.dispose();
      return { kind: 'exit', code: 1 };
    }
    if (args.evalEvery !== undefined && s.step % args.evalEvery === 0 && s.step !== steps) await evaluate(s.step);
    if (args.checkpointEvery !== undefined && s.step % args.checkpointEvery === 0 && s.step !== steps) await checkpoint.save();
    // A step's awaits are promise jobs only: yield to the event loop so that a signal is seen.
    await new Promise((resolve) => setImmediate(resolve));
    const stopSignal = signals.signal;
    // Without a checkpoint, a stop ends the run here and its outputs (--save, --record) are written as at the end.
    if (stopSignal && s.step !== steps && !checkpoint.path) return { kind: 'done', stepMs, tail, blowUps, stoppedBy: stopSignal };
    if (stopSignal && s.step !== steps) {
      const saved = await checkpoint.save();
      signals.dispose();
      trainer.dispose();
      if (!saved) return { kind: 'exit', code: 1 };
      console.log(`stopped by ${stopSignal} after step ${s.step} of ${steps}; the run is saved in ${checkpoint.path}. Resume with:`);
      console.log(`  ${resumeCommand(checkpoint.path!, args)}`);
      return { kind: 'exit', code: stopSignal === 'SIGINT' ? 130 : 143 };
    }
  }
  return { kind: 'done', stepMs, tail, blowUps };
}
