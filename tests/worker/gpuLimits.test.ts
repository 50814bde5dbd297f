import { describe, expect, it } from 'vitest';
import { checkGpuLimits, largestBuffers, largestDispatches } from '../../src/worker/gpuLimits';

/** WebGPU's default limits (what a device gets unless it asks for more): 128 MiB per binding, 256 MiB per buffer, 65,535 workgroups per dimension. */
const DEFAULT_LIMITS = { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 268_435_456, maxComputeWorkgroupsPerDimension: 65_535 };
/** A large GPU's buffers (what src/util/webgpuDevice.ts asks of its adapter), with WebGPU's minimum of workgroups per dimension. */
const LARGE_BUFFERS = { maxStorageBufferBindingSize: 2 ** 32 - 4, maxBufferSize: 2 ** 32 - 4, maxComputeWorkgroupsPerDimension: 65_535 };

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
    const small = { maxStorageBufferBindingSize: 67_108_864, maxBufferSize: 67_108_864, maxComputeWorkgroupsPerDimension: 65_535 };
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 256, queueSize: 65_536 }, small)).toBe(
      "the logits (batch 256 × 65,537: the positive and K = 65,536 negatives) need a buffer of 67 MB (67,109,888 bytes), above this GPU's maxStorageBufferBindingSize of 67 MB (67,108,864 bytes): choose a batch of at most 128, or lower the Queue size K to at most 65,535",
    );
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 128, queueSize: 65_536 }, small)).toBeNull();
  });

  it('takes the smaller of the two limits', () => {
    expect(checkGpuLimits({ preset: 'resnet8', batchSize: 2048, queueSize: 4096 }, { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 27, maxComputeWorkgroupsPerDimension: 65_535 })).toBeNull();
    expect(checkGpuLimits({ preset: 'resnet8', batchSize: 4096, queueSize: 4096 }, { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 27, maxComputeWorkgroupsPerDimension: 65_535 })).toBe(
      "the first layer's activations (batch 4,096 × 32×32 × 16 channels of resnet8) need a buffer of 268 MB (268,435,456 bytes), above this GPU's maxBufferSize of 134 MB (134,217,728 bytes): choose a batch of at most 2,048 or a smaller preset",
    );
  });

  it('counts the workgroups of the dispatches a batch and a queue lay on one dimension, as tfjs and our GEMM do', () => {
    // tfjs's conv2d puts the batch on z; its small-output matmul takes 16 logit columns per workgroup; our GEMM 64 pixel rows.
    expect(largestDispatches({ preset: 'tiny', batchSize: 256, queueSize: 65_536, customInputGradient: true }).map((d) => d.workgroups)).toEqual([256, 4096, (256 * 1024) / 64]);
    expect(largestDispatches({ preset: 'tiny', batchSize: 256, queueSize: 4097 }).map((d) => d.workgroups)).toEqual([256, 257]);
  });

  it("refuses a batch whose dispatches exceed maxComputeWorkgroupsPerDimension, naming the limit and the batch that fits", () => {
    // On a GPU with large buffers the tiny preset's batch of 8,192 fits in memory (33.6 MB of activations)…
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 8192, queueSize: 4096 }, LARGE_BUFFERS)).toBeNull();
    // …but our input-gradient GEMM would need 131,072 workgroups along y.
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 8192, queueSize: 4096, customInputGradient: true }, LARGE_BUFFERS)).toBe(
      "the input gradient's GEMM (batch 8,192 × 32×32 pixels, 64 per workgroup) need 131,072 workgroups in one dimension of a dispatch, above this GPU's maxComputeWorkgroupsPerDimension of 65,535: choose a batch of at most 2,048, or leave the Conv2DBackpropInput kernel off",
    );
    // 4,096 images are 65,536 workgroups, one over; 2,048 fit.
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 4096, queueSize: 4096, customInputGradient: true }, LARGE_BUFFERS)).toMatch(/need 65,536 workgroups/);
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 2048, queueSize: 4096, customInputGradient: true }, LARGE_BUFFERS)).toBeNull();
    // tfjs's convolutions: one workgroup layer per image.
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 70_000, queueSize: 4096 }, LARGE_BUFFERS)).toBe(
      "the convolutions (tfjs's conv2d: one workgroup layer per image of the batch of 70,000) need 70,000 workgroups in one dimension of a dispatch, above this GPU's maxComputeWorkgroupsPerDimension of 65,535: choose a batch of at most 32,768",
    );
    // A device with fewer workgroups per dimension than WebGPU's minimum (a test's): the logits name the queue.
    expect(checkGpuLimits({ preset: 'tiny', batchSize: 16, queueSize: 65_536 }, { ...LARGE_BUFFERS, maxComputeWorkgroupsPerDimension: 2048 })).toBe(
      "the logits' matrix product (batch 16 × K = 65,536 negatives, 16 columns per workgroup) need 4,096 workgroups in one dimension of a dispatch, above this GPU's maxComputeWorkgroupsPerDimension of 2,048: lower the Queue size K to at most 32,768",
    );
  });
});
