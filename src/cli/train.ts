import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateSynthetic } from '../data/synthetic';
import { exportEncoder, WEIGHTS_FILE, type LayersModelFiles } from '../io/layersModel';
import { useCustomKernels } from '../kernels/registry';
import { Trainer } from '../moco/trainer';
import { parseTrainArgs, USAGE, UsageError } from './args';
import { installNodeWebGpu } from './nodeWebgpu';

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseTrainArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
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

  const { config } = args;
  const dataset = generateSynthetic({ size: args.trainSize, seed: config.seed, split: 'train' });
  const trainer = new Trainer(config, dataset);
  console.log(
    `MoCo ${config.arch.head === 'mlp' ? 'v2' : 'v1'} · ${config.arch.widths.join('/')} widths, ${trainer.moco.encoderQ.parameterCount().toLocaleString('en')} parameters · ` +
      `batch ${config.batchSize} · K ${config.queueSize} · m ${config.momentum} · T ${config.temperature} · backend ${tf.getBackend()} · ${dataset.size} images`,
  );
  console.log('step   epoch    loss  ctr-acc  pos-sim  neg-sim   queue       lr   img/s');
  let lastLine = '';
  for (let i = 0; i < args.steps; i++) {
    const s = await trainer.step();
    if (s.step % args.logEvery === 0 || s.step === args.steps) {
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
  }
  if (args.save) {
    await writeLayersModel(args.save, await exportEncoder(trainer.moco.encoderQ, 'moco_query_encoder'));
    if (args.saveKey) await writeLayersModel(join(args.save, 'key'), await exportEncoder(trainer.moco.encoderK, 'moco_key_encoder'));
    console.log(`saved the query encoder${args.saveKey ? ' and the momentum encoder (key/)' : ''} to ${args.save}`);
  }
  trainer.dispose();
  return 0;
}

async function writeLayersModel(dir: string, files: LayersModelFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), files.modelJson);
  await writeFile(join(dir, WEIGHTS_FILE), new Uint8Array(files.weights));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
