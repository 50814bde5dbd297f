import { describe, expect, it } from 'vitest';
import { formatDecimal, formatNearOne } from '../../src/util/decimals';

describe('plain decimals for figures read side by side', () => {
  it('gives learning rates of batch 8 and 16 in the same notation (0.03 × B/256), never e-notation', () => {
    expect([0.0009375, 0.001875, 0.03, 0.0001, 1, 0].map((x) => formatDecimal(x))).toEqual(['0.000938', '0.00188', '0.03', '0.0001', '1', '0']);
    // The end of a cosine schedule, and a key encoder's lag after a few steps.
    expect(formatDecimal(2.3e-7)).toBe('0.00000023');
    expect(formatDecimal(1.8930071794690164e-5)).toBe('0.0000189');
    expect(formatDecimal(Number.NaN)).toBe('–');
  });

  it('tells a cosine just below 1 from 1 (the key consistency of m = 0.99 after a few steps)', () => {
    expect([1, 0.98, 0.99871, 0.9999998807907104].map((x) => formatNearOne(x))).toEqual(['1', '0.980', '0.9987', '0.99999988']);
    expect(formatNearOne(Number.NaN)).toBe('–');
  });
});
