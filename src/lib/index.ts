/**
 * The training core as a library, for code of your own (README, "Use the core in your own code"):
 * the method, the kernels' switch, the trainer and its checkpoints, the weights export. The same in
 * a browser and in Node; Node's backends start from `./node`. `tf` is the tfjs these modules use:
 * make your tensors with it, so that they and the core's live in one engine.
 */
export * as tf from '@tensorflow/tfjs';

export { MoCo, CONSISTENCY_EVERY, type StepStats } from '../moco/moco';
export { mocoConfig, MAX_QUEUE_SIZE, type LiveParams, type MocoConfig, type MocoVersion } from '../moco/config';
export { Encoder } from '../moco/encoder';
export { PRESETS, PRESET_NAMES, type Architecture, type PresetName } from '../moco/resnet';
export { MOCO_V1_AUGMENT, MOCO_V2_AUGMENT, type AugmentConfig } from '../moco/augment';
export { learningRateAt, type LrSchedule } from '../moco/schedule';

export { useCustomKernels, customKernelNames, customKernelEnabled, type CustomKernelOptions } from '../kernels/registry';

export { IMAGE_SIZE, type ImageDataset } from '../data/dataset';
export { imagesTensor } from '../data/tensors';

export { Trainer, type TrainStepStats } from '../train/trainer';
export { encodeCheckpoint, decodeCheckpoint, restoreTrainer, loadQueryEncoder, datasetIdentity, datasetMismatch, CheckpointError } from '../train/checkpoint';

export { exportEncoder, toLayersModel, loadLayersModelFiles, type LayersModelFiles } from '../io/layersModel';
export { modelBundleZip, modelBundleFiles, weightsFromFile, type BundleInfo } from '../io/modelBundle';
export { encoderStateDict, loadStateDict, type TensorMap } from '../io/stateDict';
export { writeSafetensors, readSafetensors } from '../io/safetensors';

export { extractFeatures } from '../eval/features';
