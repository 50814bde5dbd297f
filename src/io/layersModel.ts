import * as tf from '@tensorflow/tfjs';
import type { Encoder } from '../moco/encoder';
import { resnet, type LayerOps } from '../moco/resnet';
import { BN_EPSILON } from '../moco/batchNorm';

/** What a download or `--save` writes: the two files of TensorFlow.js's layers format. */
export interface LayersModelFiles {
  /** `model.json`: topology plus a weights manifest pointing at `weights.bin`. */
  modelJson: string;
  /** `weights.bin`: all weights, float32, in manifest order. */
  weights: ArrayBuffer;
}

export const WEIGHTS_FILE = 'weights.bin';

/**
 * The encoder as a tf.layers model in inference mode (batch-norm on its moving statistics; split
 * batch-norm only differs during training), loadable with `tf.loadLayersModel`. Its output is the
 * projection head before L2 normalisation; normalise it to get MoCo's embedding.
 */
export function toLayersModel(encoder: Encoder, name = 'moco_encoder'): tf.LayersModel {
  const weightsOf = new Map<tf.layers.Layer, tf.Tensor[]>();
  const param = (key: string) => {
    const v = encoder.parameters.get(key) ?? encoder.bnStatistics.get(key);
    if (!v) throw new Error(`export: the encoder has no weight ${key}`);
    return v;
  };
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], weights: string[] = []) => {
    weightsOf.set(layer, weights.map(param));
    return layer.apply(x) as tf.SymbolicTensor;
  };
  const ops: LayerOps<tf.SymbolicTensor> = {
    conv: (x, layerName, filters, kernelSize, strides) =>
      apply(tf.layers.conv2d({ name: layerName, filters, kernelSize, strides, padding: 'same', useBias: false }), x, [`${layerName}/kernel`]),
    batchNorm: (x, layerName) =>
      apply(tf.layers.batchNormalization({ name: layerName, epsilon: BN_EPSILON, axis: -1 }), x, [
        `${layerName}/gamma`,
        `${layerName}/beta`,
        `${layerName}/moving_mean`,
        `${layerName}/moving_variance`,
      ]),
    relu: (x) => apply(tf.layers.reLU(), x),
    add: (a, b) => apply(tf.layers.add(), [a, b]),
    globalAvgPool: (x) => apply(tf.layers.globalAveragePooling2d({}), x),
    dense: (x, layerName, units) => apply(tf.layers.dense({ name: layerName, units }), x, [`${layerName}/kernel`, `${layerName}/bias`]),
  };
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  const { projection } = resnet(ops, input, encoder.arch);
  const model = tf.model({ inputs: input, outputs: projection, name });
  for (const [layer, weights] of weightsOf) if (weights.length) layer.setWeights(weights);
  return model;
}

/** Serialises a layers model to the two files of the layers format, without touching any storage (works in a Worker). */
export async function layersModelFiles(model: tf.LayersModel): Promise<LayersModelFiles> {
  let files: LayersModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      files = { modelJson: JSON.stringify(modelJson), weights };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  return files!;
}

/** Reads back the files of `layersModelFiles` (for tests and for checking a download). */
export async function loadLayersModelFiles(files: LayersModelFiles): Promise<tf.LayersModel> {
  const json = JSON.parse(files.modelJson) as tf.io.ModelJSON;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: files.weights,
      format: json.format,
      generatedBy: json.generatedBy,
    }),
  );
}

/** The encoder's weights in the layers format, its temporary model disposed. */
export async function exportEncoder(encoder: Encoder, name?: string): Promise<LayersModelFiles> {
  const model = toLayersModel(encoder, name);
  try {
    return await layersModelFiles(model);
  } finally {
    model.dispose();
  }
}
