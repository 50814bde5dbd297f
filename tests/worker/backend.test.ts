import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, selectBackend } from '../../src/worker/backend';

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe("the training Worker's backend order", () => {
  it('puts WebAssembly after the GPU backends and ahead of the JavaScript CPU backend', () => {
    expect(BACKEND_ORDER).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
  });

  it('without WebGPU and WebGL (Node has neither) trains on WebAssembly, saying why and how it runs', async () => {
    const info = await selectBackend();
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.detail).toBe('SIMD, 1 thread');
    expect(info.fallbackReason).toMatch(/^WebGPU unavailable: navigator\.gpu is missing .*; WebGL unavailable: .+$/);
    expect(info.adapter).toBeNull();
    // Our weight gradient is registered for it: a 3×3 filter over a 4×4 image of ones, "same" padding,
    // sees each tap on 9 (corner), 12 (edge) or 16 (centre) output pixels.
    const g = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'same').sum())(tf.ones([3, 3, 1, 1])));
    expect(Array.from(await g.data())).toEqual([9, 12, 9, 12, 16, 12, 9, 12, 9]);
  });

  it('keeps the CPU backend when asked for it (?backend=cpu)', async () => {
    const info = await selectBackend(['cpu']);
    expect(info).toMatchObject({ backend: 'cpu', detail: null, fallbackReason: 'WebGPU not tried: backend order set to cpu' });
  });
});
