import { describe, expect, it } from 'vitest';
import { formatMomentum } from '../../src/ui/format';
import { learningRateScale, momentumScale, queueScale, queueSizes, temperatureScale } from '../../src/ui/scales';

describe('slider scales', () => {
  it('momentum: 0 at the bottom (the failure case), 0.9999 at the top, a decade of 1 − m per quarter', () => {
    expect(momentumScale.toValue(0)).toBe(0);
    expect(momentumScale.toValue(250)).toBeCloseTo(0.9, 10);
    expect(momentumScale.toValue(500)).toBeCloseTo(0.99, 10);
    expect(momentumScale.toValue(750)).toBeCloseTo(0.999, 10);
    expect(momentumScale.toValue(1000)).toBe(0.9999);
    // Fine steps near 1: one keyboard step at the top changes m by about 1e-6.
    expect(momentumScale.toValue(1000) - momentumScale.toValue(999)).toBeLessThan(2e-6);
    for (const m of [0, 0.5, 0.9, 0.99, 0.999, 0.9999]) expect(momentumScale.toValue(momentumScale.toPosition(m))).toBeCloseTo(m, 2);
    expect(formatMomentum(0.9999)).toBe('0.9999');
    expect(formatMomentum(0.99)).toBe('0.99');
    expect(formatMomentum(0)).toBe('0');
  });

  it('queue: from the batch size to 65,536 on a log2 scale', () => {
    expect(queueSizes(8)).toEqual([8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
    expect(queueSizes(96)[0]).toBe(96);
    expect(queueSizes(96)[1]).toBe(128);
    const scale = queueScale(256);
    expect(scale.toValue(0)).toBe(256);
    expect(scale.toValue(scale.steps)).toBe(65_536);
    expect(scale.toValue(scale.toPosition(4096))).toBe(4096);
  });

  it('temperature and learning rate: log scales that round-trip', () => {
    expect(temperatureScale.toValue(0)).toBe(0.01);
    expect(temperatureScale.toValue(temperatureScale.steps)).toBe(1);
    expect(temperatureScale.toValue(temperatureScale.toPosition(0.2))).toBeCloseTo(0.2, 2);
    expect(learningRateScale.toValue(learningRateScale.toPosition(0.03))).toBeCloseTo(0.03, 3);
  });
});
