import { formatDecimal } from '../util/decimals';
import type { LiveParams } from '../moco/config';

// One formatter for the page: toLocaleString() builds a new one on every call, which is slow.
const INTEGER = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

export function formatInt(n: number): string {
  return Number.isFinite(n) ? INTEGER.format(Math.round(n)) : '–';
}

/** 0.9999 → "0.9999", 0.99 → "0.99", 0 → "0"; enough digits to tell values near 1 apart. */
export function formatMomentum(m: number): string {
  // No value yet (the Worker is still starting): a dash, never "NaN".
  if (!Number.isFinite(m)) return '–';
  if (m === 0) return '0';
  // Two significant digits of 1 − m: the slider's neighbouring positions (1 − m 0.9% apart) then read
  // differently (0.9899 beside 0.99) where one digit said "0.99" for several presses of an arrow key.
  const digits = Math.min(6, Math.max(3, Math.ceil(-Math.log10(1 - m)) + 2));
  return Number(m.toFixed(digits)).toString();
}

/**
 * A learning rate, the same way everywhere (slider, charts' axis and read-out, markers): a plain
 * decimal of 3 significant digits, so that batch 8's 0.000937 reads beside batch 16's 0.00188
 * (formatNumber gave 9.37e-4 beside 0.00188, the axis 9.4e-4).
 */
export function formatLearningRate(lr: number): string {
  return formatDecimal(lr, 3);
}

export function formatNumber(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** Short labels for axes: 1.5M, 25k, 4,096, 0.25. */
export function formatCompact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (Math.abs(n) >= 1e4) return `${Number((n / 1e3).toPrecision(3))}k`;
  if (Number.isInteger(n)) return formatInt(n);
  return formatNumber(n, 3);
}

/**
 * A live parameter as a screen reader says its slider's value: the symbol and the unit with the
 * number ("m = 0.99", "K = 4,096 keys"), as the charts' markers and the hints name them, never a
 * bare "0.99"; the learning rate in plain digits, not "9.37e-4".
 */
export function spokenParam(key: keyof LiveParams, value: number): string {
  switch (key) {
    case 'momentum':
      return `m = ${formatMomentum(value)}`;
    case 'queueSize':
      return `K = ${formatInt(value)} ${value === 1 ? 'key' : 'keys'}`;
    case 'temperature':
      return `T = ${formatNumber(value, 3)}`;
    case 'learningRate':
      return `learning rate ${formatLearningRate(value)}`;
  }
}
