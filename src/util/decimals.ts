/**
 * Numbers as plain decimals, never in e-notation, for figures a class reads side by side (a learning
 * rate of 0.000938 beside 0.00188, not 9.38e-4 beside 0.00188; the key encoder's lag and consistency
 * in the tables of `--sweep` and the app's experiments).
 */
const DECIMAL = new Map<number, Intl.NumberFormat>();

/** `x` to `digits` significant digits, as a plain decimal: 0.0009375 → "0.000938", 0.03 → "0.03". A dash for a value that is not a number. */
export function formatDecimal(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–';
  let format = DECIMAL.get(digits);
  if (!format) DECIMAL.set(digits, (format = new Intl.NumberFormat('en', { maximumSignificantDigits: digits, useGrouping: false })));
  return format.format(x);
}

/**
 * A value at most 1 that may lie very near it (a cosine): as many decimals as it takes to tell it
 * from 1, plus one, at least `digits` (0.98 → "0.980", 0.99999988 → "0.99999988"; exactly 1 → "1").
 */
export function formatNearOne(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 1) return '1';
  const decimals = Math.min(10, Math.max(digits, Math.ceil(-Math.log10(Math.abs(1 - x))) + 1));
  return x.toFixed(decimals);
}
