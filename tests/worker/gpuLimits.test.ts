import { describe, expect, it } from 'vitest';
import { checkGpuLimits, largestBuffers } from '../../src/worker/gpuLimits';

/** WebGPU's default limits (what a device gets unless it asks for more): 128 MiB per binding, 256 MiB per buffer. */
const DEFAULT_LIMITS = { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 268_435_456 };

describe('GPU buffer limits, checked before allocating', () => {
  it('sizes the largest buffers of a step: activations, logits, queue', () => {
    expect(largestBuffers({ preset: 'resnet18', batchSize: 256, queueSize: 4096 }).map((b) => b.bytes)).toEqual([
      256 * 32 * 32 * 64 * 4, // 67 MB
      256 * 4097 * 4,
      4096 * 128 * 4,
    ]);
  });

  it('passes what fits, and names the buffer, the limit and the batch that fits when it does not', () => {
    expect(checkGpuLimits({ preset: 'resnet18', batchSize: 512, queueSize: 32_768 }, DEFAULT_LIMITS)).toBeNull();
    // At batch 512 a full queue's logits are 2 KB over 128 MiB.
    expect(checkGpuLimits({ preset: 'resnet18', batchSize: 512, queueSize: 65_536 }, DEFAULT_LIMITS)).toMatch(/^the logits .* need a buffer of 134 MB \(134,219,776 bytes\).*: choose a batch of at most 256, or lower the Queue size K to at most 65,535$/);
    expect(checkGpuLimits({ preset: 'resnet18', batchSize: 1024, queueSize: 4096 }, DEFAULT_LIMITS)).toBe(
      "the first layer's activations (batch 1,024 × 32×32 × 64 channels of resnet18) need a buffer of 268 MB (268,435,456 bytes), above this GPU's maxStorageBufferBindingSize of 134 MB (134,217,728 bytes): choose a batch of at most 512 or a smaller preset",
    );
    // The tiny preset's activations are small: the logits of a full queue are what a small device cannot hold.
    const small = { maxStorageBufferBindingSize: 67_108_864, maxBufferSize: 67_108_864 };
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 256, queueSize: 65_536 }, small)).toBe(
      "the logits (batch 256 × 65,537: the positive and K = 65,536 negatives) need a buffer of 67 MB (67,109,888 bytes), above this GPU's maxStorageBufferBindingSize of 67 MB (67,108,864 bytes): choose a batch of at most 128, or lower the Queue size K to at most 65,535",
    );
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 128, queueSize: 65_536 }, small)).toBeNull();
  });

  it('takes the smaller of the two limits', () => {
    expect(checkGpuLimits({ preset: 'resnet8', batchSize: 2048, queueSize: 4096 }, { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 27 })).toBeNull();
    expect(checkGpuLimits({ preset: 'resnet8', batchSize: 4096, queueSize: 4096 }, { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 27 })).toBe(
      "the first layer's activations (batch 4,096 × 32×32 × 16 channels of resnet8) need a buffer of 268 MB (268,435,456 bytes), above this GPU's maxBufferSize of 134 MB (134,217,728 bytes): choose a batch of at most 2,048 or a smaller preset",
    );
  });
});
