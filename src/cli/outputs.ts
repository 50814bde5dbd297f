/** What the headless trainer writes besides checkpoints: the exported model (`--save`), and the checks of every output path before any work. */
import { access, appendFile, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DatasetError } from '../data/errors';
import { modelBundleFiles, modelBundleZip } from '../io/modelBundle';
import type { Trainer } from '../train/trainer';
import type { TrainArgs } from './args';
import { fsCall } from './dataFiles';

/**
 * Checks `--save` (and `--save-key`'s folder) and `--log-json` before any work: a run must never
 * train to the end and then fail to save. Throws DatasetError naming the path and the fix.
 */
export async function checkOutputs(args: TrainArgs): Promise<void> {
  if (args.save?.endsWith('.zip')) await checkOutputFile(args.save, '--save');
  else if (args.save) await checkOutputFolder(args.save, '--save');
  if (args.record) await checkOutputFile(args.record, '--record');
  if (args.save && !args.save.endsWith('.zip') && args.saveKey) await checkOutputFolder(join(args.save, 'key'), '--save-key');
  // Appending nothing checks that the file can be written without emptying a resumed run's log.
  if (args.logJson) {
    try {
      await fsCall(args.logJson, () => appendFile(args.logJson!, ''));
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
      throw new DatasetError(e.file, `${e.problem} — --log-json writes one file: give a file name, e.g. ${join(e.file, 'run.jsonl')}`);
    }
  }
}

/** `--checkpoint` (or `--resume`'s file, written again): one file, so a folder there is refused before any step. */
export async function checkCheckpointPath(path: string, option: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new DatasetError(path, `is a folder, but ${option} writes the checkpoint as one file: give a file name, e.g. ${join(path, 'run.zip')}`);
}

/** `--save`: the query encoder (and with `--save-key` the momentum encoder) as a zip or a folder of files. */
export async function saveModel(args: TrainArgs & { save: string }, trainer: Trainer, final: { step: number; accuracy: number; k: number } | null): Promise<void> {
  const info = {
    ...trainer.bundleInfo(),
    knn: final,
    savedAs: args.save,
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
