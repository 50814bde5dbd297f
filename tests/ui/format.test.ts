import { describe, expect, it } from 'vitest';
import { formatMomentum, spokenParam } from '../../src/ui/format';

describe('formatMomentum', () => {
  it("shows as many nines as the value has, and a dash while there is no value yet (never 'NaN')", () => {
    expect([0, 0.9, 0.99, 0.999, 0.9999, 0.999999].map(formatMomentum)).toEqual(['0', '0.9', '0.99', '0.999', '0.9999', '0.999999']);
    expect(formatMomentum(Number.NaN)).toBe('–');
  });
});

describe('spokenParam', () => {
  it('says a slider value with its symbol and unit, as the paper writes them, not a bare number', () => {
    expect(spokenParam('momentum', 0.99)).toBe('m = 0.99');
    expect(spokenParam('momentum', 0.999)).toBe('m = 0.999');
    expect(spokenParam('queueSize', 4096)).toBe('K = 4,096 keys');
    expect(spokenParam('temperature', 0.2)).toBe('T = 0.2');
    // Read aloud digit by digit, not "9.37 e minus 4".
    expect(spokenParam('learningRate', 0.000937)).toBe('learning rate 0.000937');
    expect(spokenParam('momentum', Number.NaN)).toBe('m = –');
  });
});
