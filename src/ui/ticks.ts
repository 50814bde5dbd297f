export interface Axis {
  domain: [number, number];
  ticks: number[];
}

/**
 * Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [min, max], at most about
 * `count` of them, and the domain they span. Computed here rather than by the chart library, which
 * measures tick labels in the DOM on every update.
 */
export function niceAxis(min: number, max: number, count = 5): Axis {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { domain: [0, 1], ticks: [0, 0.5, 1] };
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw * (1 - 1e-9))!;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  return { domain: [ticks[0], ticks[ticks.length - 1]], ticks };
}

/**
 * A step axis from 0 to the last step shown (at least 4, so that a run's first steps are not
 * stretched across the whole plot), with round integer ticks inside it: every chart of a run ends
 * where its data ends, not at the next round number (a 12-step run is not drawn to 15).
 */
export function stepAxis(max: number, count = 5): Axis {
  const end = Math.max(4, Number.isFinite(max) ? Math.ceil(max) : 0);
  const axis = niceAxis(0, end, count);
  return { domain: [0, end], ticks: axis.ticks.filter((t) => Number.isInteger(t) && t <= end) };
}

/**
 * A log axis over the positive range [min, max]: whole decades, with 2 and 5 times each power of
 * ten as ticks when the range spans few decades.
 */
export function logAxis(min: number, max: number): Axis {
  if (!(min > 0) || !(max > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return { domain: [0.1, 10], ticks: [0.1, 1, 10] };
  if (max < min) [min, max] = [max, min];
  let lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi === lo) hi++;
  const ticks: number[] = [];
  const dense = hi - lo <= 2;
  for (let e = lo; e <= hi; e++) for (const f of dense && e < hi ? [1, 2, 5] : [1]) ticks.push(Number((f * 10 ** e).toPrecision(12)));
  // Trim decades the data does not reach: the domain starts and ends at the ticks around it.
  const first = ticks.findLastIndex((t) => t <= min * (1 + 1e-9));
  const last = ticks.findIndex((t) => t >= max * (1 - 1e-9));
  const kept = ticks.slice(Math.max(0, first), last < 0 ? ticks.length : last + 1);
  lo = kept[0];
  hi = kept[kept.length - 1];
  return { domain: [lo, hi], ticks: kept };
}
