import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportEncoder, loadLayersModelFiles } from '../../src/io/layersModel';
import { l2Normalize } from '../../src/moco/encoder';
import { mocoConfig } from '../../src/moco/config';
import { MoCo } from '../../src/moco/moco';
import { relativeError, useWasmBackend } from '../support/helpers';

beforeAll(useWasmBackend);

describe('weights export (TensorFlow.js layers format)', () => {
  it('round-trips through tf.loadLayersModel and gives the encoder’s embedding after training', async () => {
    for (const version of ['v1', 'v2'] as const) {
      const moco = new MoCo(mocoConfig(version, 'tiny', { batchSize: 8, queueSize: 16, bnSplits: 2 }));
      const batch = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
      // Training moves the weights and the BN moving statistics away from their initial values.
      await moco.step(batch);
      await moco.step(batch);
      const files = await exportEncoder(moco.encoderQ);
      const json = JSON.parse(files.modelJson);
      expect(json.format).toBe('layers-model');
      expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
      expect(files.weights.byteLength).toBe(4 * json.weightsManifest[0].weights.reduce((n: number, w: { shape: number[] }) => n + w.shape.reduce((a, b) => a * b, 1), 0));

      const model = await loadLayersModelFiles(files);
      const x = tf.randomUniform([5, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
      const loaded = l2Normalize(model.predict(x) as tf.Tensor2D);
      const direct = moco.encoderQ.embed(x, false);
      expect(relativeError(await loaded.data(), await direct.data())).toBeLessThan(1e-5);
      // The key encoder is a different network: its embedding must not match.
      expect(relativeError(await moco.encoderK.embed(x, false).data(), await direct.data())).toBeGreaterThan(1e-4);
      model.dispose();
      moco.dispose();
    }
  });
});
