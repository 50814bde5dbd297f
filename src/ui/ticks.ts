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

/** Integer ticks for step axes: from 1 (or 0) to at least `max`. */
export function stepAxis(max: number, count = 5): Axis {
  const axis = niceAxis(0, Math.max(max, 4), count);
  return { domain: [axis.domain[0], axis.domain[1]], ticks: axis.ticks.filter((t) => Number.isInteger(t)) };
}
