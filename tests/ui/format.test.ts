import { describe, expect, it } from 'vitest';
import { formatMomentum } from '../../src/ui/format';

describe('formatMomentum', () => {
  it("shows as many nines as the value has, and a dash while there is no value yet (never 'NaN')", () => {
    expect([0, 0.9, 0.99, 0.999, 0.9999, 0.999999].map(formatMomentum)).toEqual(['0', '0.9', '0.99', '0.999', '0.9999', '0.999999']);
    expect(formatMomentum(Number.NaN)).toBe('–');
  });
});
