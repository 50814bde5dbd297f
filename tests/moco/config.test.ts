import { describe, expect, it } from 'vitest';
import { MAX_QUEUE_SIZE, mocoConfig, validateLiveParams } from '../../src/moco/config';
import { queueScale } from '../../src/ui/scales';

describe('the queue limit', () => {
  it('is enforced by the configuration every path validates', () => {
    expect(MAX_QUEUE_SIZE).toBe(65_536);
    expect(mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 65_536 }).queueSize).toBe(65_536);
    expect(() => mocoConfig('v2', 'tiny', { batchSize: 8, queueSize: 65_537 })).toThrow('queue size must be at most 65,536, got 65,537');
    // What the worker API accepted before (and failed on later with a WebGPU dispatch error).
    expect(() => validateLiveParams({ queueSize: 2_098_176 })).toThrow('queue size must be at most 65,536, got 2,098,176');
    // The app's slider stops at the same limit.
    const scale = queueScale(256);
    expect(scale.toValue(scale.steps)).toBe(MAX_QUEUE_SIZE);
  });
});
