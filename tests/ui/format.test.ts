import { describe, expect, it } from 'vitest';
import { formatLearningRate, formatMomentum, spokenParam } from '../../src/ui/format';
import { defaultLearningRate, momentumScale } from '../../src/ui/scales';

describe('formatMomentum', () => {
  it("shows as many nines as the value has, and a dash while there is no value yet (never 'NaN')", () => {
    expect([0, 0.9, 0.99, 0.999, 0.9999, 0.999999].map(formatMomentum)).toEqual(['0', '0.9', '0.99', '0.999', '0.9999', '0.999999']);
    expect(formatMomentum(Number.NaN)).toBe('–');
  });

  it('tells the momentum slider\'s neighbouring positions apart around the values people set', () => {
    for (const m of [0.9, 0.99, 0.999]) {
      const p = momentumScale.toPosition(m);
      const shown = [p - 1, p, p + 1].map((q) => formatMomentum(momentumScale.toValue(q)));
      expect(new Set(shown).size, shown.join(' ')).toBe(3);
      expect(shown[1]).toBe(String(m));
    }
  });
});

describe('formatLearningRate', () => {
  it('gives the default rates of small and large batches in one notation (0.03 × B/256), never e-notation', () => {
    expect([8, 16, 128, 256].map((b) => formatLearningRate(defaultLearningRate(b)))).toEqual(['0.000937', '0.00187', '0.015', '0.03']);
    // The slider's ends, and the end of a cosine schedule.
    expect([1e-4, 1, 0, 2.3e-7].map(formatLearningRate)).toEqual(['0.0001', '1', '0', '0.00000023']);
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
