/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/**
 * tfjs's 'webgpu' backend on a device that asks for the adapter's most storage buffers per shader
 * stage (tfjs's own asks for WebGPU's default, 8), so that one dispatch can update many parameters
 * (src/kernels/webgpu/sgd.ts, movingAverage.ts). Everything else as tfjs's factory: the adapter
 * (high-performance unless `WEBGPU_USE_LOW_POWER_GPU`), its timestamp queries, its size limits.
 *
 * Call once `navigator.gpu` exists and before the backend first starts; a backend already started
 * is left as it is, unless `replace` (its device was lost): then it is disposed and the next
 * `tf.setBackend('webgpu')` asks the adapter for a new device. Kernels registered for 'webgpu'
 * (tfjs's and ours, src/kernels/registry.ts) are kept by name and run on the new backend. The
 * caller hands over the package's backend class: a browser imports the package statically, Node
 * only after setting the WebGPU globals (src/util/nodeWebgpu.ts).
 */
export async function registerWebGpuBackend(
  Backend: typeof WebGPUBackend,
  options: { replace?: boolean } = {},
): Promise<void> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  // tf.findBackend would start the backend; the engine's registry holds only those started.
  const started = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry.webgpu;
  if (!gpu || (started && !options.replace)) return;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const powerPreference = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance';
      const adapter = await gpu.requestAdapter({ powerPreference });
      if (!adapter) throw new Error('no WebGPU adapter (navigator.gpu.requestAdapter() returned null)');
      const features = (['timestamp-query', 'bgra8unorm-storage'] as const).filter((f) => adapter.features.has(f));
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: features,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        },
      });
      return new Backend(device, adapter.info);
    },
    3,
  );
}
