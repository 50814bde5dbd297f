import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type * as tf from '@tensorflow/tfjs';
import { BundleError, SAFETENSORS_FILE, weightsFromFile } from '../io/modelBundle';
import { WEIGHTS_FILE } from '../io/layersModel';
import { readSafetensors, SafetensorsError } from '../io/safetensors';
import { loadStateDict, tfjsWeightsToStateDict, WeightsMismatchError, type TensorMap } from '../io/stateDict';
import type { Encoder } from '../moco/encoder';
import { CHECKPOINT_MANIFEST, CheckpointError, decodeCheckpoint, loadQueryEncoder } from '../train/checkpoint';

/** A file given to --init that cannot start the run; the message names the file and the fix. */
export class InitError extends Error {}

/**
 * The weights of `--init PATH`, as a PyTorch-named state_dict: our zip, a safetensors file (ours
 * or one PyTorch wrote with python/moco_torch.py), or a directory holding `model.safetensors` or a
 * TensorFlow.js layers model (`model.json` + its weight files).
 */
export async function readInitWeights(path: string): Promise<TensorMap> {
  if (!existsSync(path)) throw new InitError(`--init ${path}: no such file or directory`);
  try {
    if (statSync(path).isDirectory()) {
      if (existsSync(join(path, SAFETENSORS_FILE))) return readSafetensors(await readFile(join(path, SAFETENSORS_FILE))).tensors;
      if (existsSync(join(path, 'model.json'))) return await readTfjsDir(path);
      throw new InitError(`--init ${path}: the directory holds neither ${SAFETENSORS_FILE} nor model.json (give a --save directory, the downloaded zip or a .safetensors file)`);
    }
    return weightsFromFile(new Uint8Array(await readFile(path)), path);
  } catch (e) {
    // What to give instead, in the trainer's terms (a message of io/ may name the app's buttons).
    if (e instanceof SafetensorsError || e instanceof BundleError) throw new InitError(`--init ${path}: ${e.message} (give the downloaded zip, a .safetensors file or a --save directory)`);
    throw e;
  }
}

/** The bytes of a checkpoint (the trainer's or the app's: a zip holding the checkpoint manifest), or null for a model export. */
async function checkpointBytes(path: string): Promise<Uint8Array | null> {
  if (!existsSync(path) || statSync(path).isDirectory()) return null;
  const bytes = new Uint8Array(await readFile(path));
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) return null;
  try {
    return CHECKPOINT_MANIFEST in unzipSync(bytes, { filter: (entry) => entry.name === CHECKPOINT_MANIFEST }) ? bytes : null;
  } catch {
    return null;
  }
}

async function readTfjsDir(dir: string): Promise<TensorMap> {
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  } catch {
    throw new InitError(`--init ${dir}: model.json is not valid JSON (give a --save directory as the trainer wrote it, the downloaded zip or a .safetensors file)`);
  }
  const weights: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const group of json.weightsManifest ?? []) {
    const parts = await Promise.all(group.paths.map((p) => readFile(join(dir, p)).catch(() => {
      throw new InitError(`--init ${dir}: model.json needs ${p}${p === WEIGHTS_FILE ? '' : ` (${WEIGHTS_FILE})`}, which is missing (copy the whole --save directory, or give the downloaded zip)`);
    })));
    const buffer = new Uint8Array(Buffer.concat(parts));
    let at = 0;
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      if (spec.dtype !== 'float32' || at + 4 * count > buffer.length) throw new InitError(`--init ${dir}: weight ${spec.name} is not float32 or runs past the end of the weight file (it is cut short or from another model: save the weights again, or give the downloaded zip)`);
      weights.push({ name: spec.name, shape: spec.shape, data: new Float32Array(buffer.slice(at, at + 4 * count).buffer) });
      at += 4 * count;
    }
  }
  return tfjsWeightsToStateDict(weights);
}

/** Starts both encoders from the file's weights (MoCo's key encoder begins as a copy of the query's). */
export async function initEncoders(path: string, encoderQ: Encoder, encoderK: Encoder): Promise<void> {
  const checkpoint = await checkpointBytes(path);
  if (checkpoint) {
    try {
      loadQueryEncoder(await decodeCheckpoint(checkpoint, path), encoderQ);
    } catch (e) {
      if (e instanceof CheckpointError) throw new InitError(`--init ${e.message}${/builds/.test(e.message) ? ': pick the matching --preset and --moco' : ''}`);
      throw e;
    }
    encoderK.copyFrom(encoderQ);
    return;
  }
  const tensors = await readInitWeights(path);
  try {
    loadStateDict(encoderQ, tensors);
  } catch (e) {
    if (e instanceof WeightsMismatchError) throw new InitError(`--init ${path} ${e.message}: pick the matching --preset and --moco`);
    throw e;
  }
  encoderK.copyFrom(encoderQ);
}
