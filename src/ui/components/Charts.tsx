import { memo, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactElement } from 'react';
import { CartesianGrid, LineChart, ReferenceLine, ResponsiveContainer, usePlotArea, useXAxisScale, useYAxisScale, XAxis, YAxis } from 'recharts';
import type { ParamChange } from '../../worker/types';
import { saveBlob } from '../download';
import { formatCompact, formatInt, formatLearningRate, formatMomentum, formatNumber } from '../format';
import { DEFAULT_SMOOTHING, MAX_SMOOTHING, type Point, type RunOverlay, type SeriesField, type SeriesStore } from '../series';
import { seriesTable, toCsv, toJson } from '../seriesExport';
import { logAxis, niceAxis, stepAxis, type Axis } from '../ticks';
import { Term } from './Term';
import styles from './Charts.module.css';
import { chanceLoss } from '../../train/finalFigures';

interface SeriesSpec {
  field: SeriesField;
  name: string;
  colour: string;
  width?: number;
  opacity?: number;
  axis?: 'left' | 'right';
  stepped?: boolean;
  dashed?: boolean;
}

/** What an overlaid run draws on a chart: a few of its series, in the run's colour. */
interface OverlaySpec {
  field: SeriesField;
  /** After the run's label, when the chart draws more than one series per run. */
  name?: string;
  dashed?: boolean;
}

interface ChartSpec {
  id: string;
  title: string;
  series: SeriesSpec[];
  overlay?: OverlaySpec[];
  /** A horizontal line at the level of chance (loss ÷ chance: 1). */
  chanceLevel?: { y: number; name: string };
  /** Fixed y range; otherwise the data's, widened to round ticks (from 0 with `fromZero`). */
  yRange?: [number, number];
  fromZero?: boolean;
  rightAxis?: boolean;
  format?: (v: number) => string;
  /** What the chart will show, said while it is empty (followed by what brings the first step). */
  empty: string;
}

/** Colours from the page's palette (global.css), so that the dark scheme has its own. */
const C = {
  query: 'var(--chart-query)',
  key: 'var(--chart-key)',
  raw: 'var(--chart-raw)',
  smooth: 'var(--chart-smooth)',
  positive: 'var(--chart-positive)',
  negative: 'var(--chart-negative)',
  queue: 'var(--chart-queue)',
  age: 'var(--chart-age)',
  grey: 'var(--chart-grey)',
};

/** What brings the first step, said after what an empty chart will show: Start, unless a replay or an experiment drives the charts. */
export const START = 'Press Start to train.';
/** While a replay or an experiment drives the charts, Start waits: they say what comes instead. */
export const REPLAY_WAIT = 'The recording brings the first step, as it plays (Start waits meanwhile).';
export const EXPERIMENT_WAIT = 'The experiment’s run is about to take its first step.';

const LOSS: ChartSpec = {
  id: 'loss',
  title: 'InfoNCE loss',
  fromZero: true,
  series: [
    { field: 'chanceLoss', name: 'chance ln(n+1)', colour: C.grey, width: 1.2, dashed: true },
    { field: 'loss', name: 'raw', colour: C.raw, width: 1, opacity: 0.6 },
    { field: 'lossSmoothed', name: 'smoothed', colour: C.smooth, width: 2 },
  ],
  overlay: [{ field: 'lossSmoothed' }],
  empty: `The loss of each step will appear here, below its dashed chance level as MoCo learns.`,
};
const LOSS_RATIO: ChartSpec = {
  id: 'loss',
  title: 'InfoNCE loss ÷ chance',
  series: [
    { field: 'lossRatio', name: 'raw', colour: C.raw, width: 1, opacity: 0.6 },
    { field: 'lossRatioSmoothed', name: 'smoothed', colour: C.smooth, width: 2 },
  ],
  chanceLevel: { y: 1, name: 'chance = 1' },
  overlay: [{ field: 'lossRatioSmoothed' }],
  fromZero: true,
  empty: `The loss as a fraction of its chance level ln(n+1) will appear here.`,
};
const ACCURACY: ChartSpec = {
  id: 'accuracy',
  title: 'Contrastive accuracy',
  series: [
    { field: 'chanceAccuracy', name: 'chance 1/(n+1)', colour: C.grey, width: 1.2, dashed: true },
    { field: 'contrastiveAccuracy', name: 'raw', colour: C.raw, width: 1, opacity: 0.6 },
    { field: 'accuracySmoothed', name: 'smoothed', colour: C.query, width: 1.8 },
  ],
  overlay: [{ field: 'accuracySmoothed' }],
  yRange: [0, 1],
  format: (v) => `${Math.round(v * 100)}%`,
  empty: `How often each query finds its own key will appear here.`,
};
const SIMILARITY: ChartSpec = {
  id: 'similarity',
  title: 'Positive vs negative similarity',
  series: [
    { field: 'meanPositiveSimilarity', name: 'positive q·k₊', colour: C.positive, width: 1.5 },
    { field: 'meanNegativeSimilarity', name: 'negatives q·kᵢ', colour: C.negative, width: 1.5 },
  ],
  overlay: [
    { field: 'meanPositiveSimilarity', name: 'q·k₊' },
    { field: 'meanNegativeSimilarity', name: 'q·kᵢ', dashed: true },
  ],
  yRange: [-1, 1],
  empty: `The similarity of positive pairs and of negatives will appear here.`,
};
const QUEUE: ChartSpec = {
  id: 'queue',
  title: 'Queue: capacity, filled slots, key age',
  series: [
    { field: 'queueCapacity', name: 'capacity K', colour: C.grey, width: 1.5, stepped: true },
    { field: 'queueFilled', name: 'filled', colour: C.queue, width: 2, stepped: true },
    { field: 'meanKeyAge', name: 'mean key age (steps)', colour: C.age, width: 1.5, axis: 'right' },
  ],
  rightAxis: true,
  fromZero: true,
  format: formatCompact,
  empty: `The queue of negative keys filling up, and their age, will appear here.`,
};
const KEY_ENCODER: ChartSpec = {
  id: 'key-encoder',
  title: 'Key encoder: lag and consistency',
  series: [
    { field: 'keyLag', name: 'lag ‖θk−θq‖/‖θq‖', colour: C.key, width: 1.5 },
    { field: 'keyConsistency', name: 'key cos', colour: C.query, width: 1.5, axis: 'right', stepped: true },
  ],
  rightAxis: true,
  fromZero: true,
  format: (v) => formatNumber(v, 2),
  empty: `How far the key encoder trails the query encoder, and how alike their keys are, will appear here.`,
};
const THROUGHPUT: ChartSpec = {
  id: 'throughput',
  title: 'Throughput',
  series: [{ field: 'imagesPerSecond', name: 'images/s', colour: C.key, width: 1.5 }],
  fromZero: true,
  format: formatCompact,
  empty: `Images trained per second will appear here.`,
};
const LEARNING_RATE: ChartSpec = {
  id: 'lr',
  title: 'Learning rate',
  series: [{ field: 'learningRate', name: 'lr', colour: C.grey, width: 1.5, stepped: true }],
  fromZero: true,
  format: formatLearningRate,
  empty: `The learning rate of each step will appear here.`,
};

/** Markers drawn at most: the most recent changes. */
const MAX_MARKERS = 40;

/** Every parameter a change sets, e.g. "m 0, K 64". */
export function markerLabel(change: ParamChange): string {
  const p = change.params;
  const parts: string[] = [];
  if (p.momentum !== undefined) parts.push(`m ${formatMomentum(p.momentum)}`);
  if (p.queueSize !== undefined) parts.push(`K ${formatCompact(p.queueSize)}`);
  if (p.temperature !== undefined) parts.push(`T ${formatNumber(p.temperature, 2)}`);
  if (p.learningRate !== undefined) parts.push(`lr ${formatLearningRate(p.learningRate)}`);
  return parts.join(', ');
}

/** Rows of marker labels above each other; a label goes in the first row where it overlaps none. */
const MARKER_ROWS = 3;
/** Approximate width of a 10 px label per character, and the plot width labels are laid out for. */
const LABEL_CHAR_PX = 5.6;
const LAYOUT_PLOT_PX = 240;

/** Where a marker's label goes: its row, and on which side of its line. */
export interface MarkerPlace {
  row: number;
  /** Left of the line, ending at it: a label right of a line near the plot's right edge would be cut off there. */
  leftOfLine: boolean;
}

/**
 * The place of each marker's label (markers in step order), or none where all rows are taken there:
 * such a marker is still named in the read-out at its step.
 */
export function markerRows(markers: readonly ParamChange[], domain: [number, number], plotPx = LAYOUT_PLOT_PX): Map<ParamChange, MarkerPlace> {
  const places = new Map<ParamChange, MarkerPlace>();
  const span = Math.max(1e-9, domain[1] - domain[0]);
  const ends = new Array<number>(MARKER_ROWS).fill(-Infinity);
  for (const mk of markers) {
    const at = ((mk.fromStep - domain[0]) / span) * plotPx;
    const width = markerLabel(mk).length * LABEL_CHAR_PX + 6;
    const leftOfLine = at + width > plotPx && at - width >= 0;
    const start = leftOfLine ? at - width : at;
    const row = ends.findIndex((end) => start >= end);
    if (row < 0) continue;
    places.set(mk, { row, leftOfLine });
    ends[row] = start + width;
  }
  return places;
}

function valueAxis(lines: Line[], data: (readonly Point[])[], side: 'left' | 'right', range?: [number, number], fromZero?: boolean, log?: boolean): Axis {
  if (range && !log) return niceAxis(range[0], range[1]);
  let lo = fromZero && !log ? 0 : Infinity;
  let hi = fromZero && !log ? 0 : -Infinity;
  lines.forEach((l, i) => {
    if ((l.spec.axis ?? 'left') !== side) return;
    for (const p of data[i]) {
      if (p.y < lo) lo = p.y;
      if (p.y > hi) hi = p.y;
    }
  });
  if (log) return logAxis(lo, hi);
  if (lo > hi) return niceAxis(0, 1);
  // A flat series from zero (a loss of 0 while the queue is empty, an age of 0) still gets a range above it.
  if (fromZero && lo === hi) return niceAxis(0, hi > 0 ? hi : 1);
  return niceAxis(lo, hi);
}

/** SVG path data through the points, as straight segments or as steps (value held until the next point). */
function pathData(points: readonly Point[], x: (v: number) => number, y: (v: number) => number, stepped: boolean): string {
  let d = '';
  let pen = false;
  for (let i = 0; i < points.length; i++) {
    // One decimal is sub-pixel; rounding by hand is much faster than toFixed.
    const px = Math.round(x(points[i].x) * 10) / 10;
    const py = Math.round(y(points[i].y) * 10) / 10;
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      pen = false;
      continue;
    }
    if (!pen) d += `M${px},${py}`;
    else if (stepped) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
    pen = true;
  }
  return d;
}

/** A line drawn on a chart: one series of the current run or of an overlaid run. */
interface Line {
  key: string;
  store: SeriesStore;
  spec: SeriesSpec;
  /** In the legend and the read-out. */
  name: string;
  overlay: boolean;
}

/**
 * One series, drawn as a single SVG path through recharts' own axis scales (its public hooks).
 * recharts' <Line> keeps every point in its state store and re-measures the path on each update;
 * at 1,000 points a series and six charts that made each update a long task here.
 */
function SeriesLine({ line, points, clipId }: { line: Line; points: readonly Point[]; clipId: string }) {
  const { spec } = line;
  const xScale = useXAxisScale();
  const yScale = useYAxisScale(spec.axis ?? 'left');
  const plot = usePlotArea();
  const d = useMemo(() => {
    if (!xScale || !yScale) return '';
    const x = (v: number) => xScale(v) ?? NaN;
    const y = (v: number) => yScale(v) ?? NaN;
    return pathData(points, x, y, spec.stepped ?? false);
  }, [points, xScale, yScale, spec.stepped]);
  if (!d || !plot) return null;
  const single = points.length === 1 && xScale && yScale ? { cx: xScale(points[0].x), cy: yScale(points[0].y) } : null;
  return (
    <g clipPath={`url(#${clipId})`}>
      <path
        d={d}
        fill="none"
        style={{ stroke: spec.colour }}
        strokeWidth={spec.width ?? 1.5}
        strokeOpacity={spec.opacity ?? 1}
        strokeDasharray={spec.dashed ? '4 3' : undefined}
        strokeLinejoin="round"
        data-series={line.overlay ? undefined : spec.field}
        data-overlay={line.overlay ? line.key : undefined}
        data-points={points.length}
      />
      {single && <circle cx={single.cx} cy={single.cy} r={2.5} style={{ fill: spec.colour }} />}
    </g>
  );
}

/** The plot area's clip: lines and the pointer's crosshair stay inside the axes. */
function PlotClip({ id }: { id: string }) {
  const plot = usePlotArea();
  if (!plot) return null;
  return (
    <clipPath id={id}>
      <rect x={plot.x - 2} y={plot.y - 2} width={plot.width + 4} height={plot.height + 4} />
    </clipPath>
  );
}

/** "step" under the y axis, beside the x axis's first tick: every x axis here counts steps. */
export function StepAxisLabel() {
  const plot = usePlotArea();
  if (!plot) return null;
  return (
    // Below the y axis's lowest label ("0%" reaches 5 px under the plot), inside the x axis's 18 px.
    <text x={plot.x - 6} y={plot.y + plot.height + 15} textAnchor="end" className={styles['axis-name']}>
      step
    </text>
  );
}

/** The pointer's step: a vertical line and a dot on each line at its value there. */
function Crosshair({ step, dots }: { step: number; dots: { key: string; y: number; axis: 'left' | 'right'; colour: string }[] }) {
  const xScale = useXAxisScale();
  const left = useYAxisScale('left');
  const right = useYAxisScale('right');
  const plot = usePlotArea();
  if (!xScale || !plot) return null;
  const x = xScale(step);
  if (x === undefined || !Number.isFinite(x)) return null;
  return (
    <g className={styles.crosshair} pointerEvents="none">
      <line x1={x} x2={x} y1={plot.y} y2={plot.y + plot.height} />
      {dots.map((d) => {
        const y = (d.axis === 'right' ? right : left)?.(d.y);
        return y !== undefined && Number.isFinite(y) && y >= plot.y - 1 && y <= plot.y + plot.height + 1 ? <circle key={d.key} cx={x} cy={y} r={3} style={{ fill: d.colour }} /> : null;
      })}
    </g>
  );
}

interface ChartProps {
  spec: ChartSpec;
  caption: string;
  store: SeriesStore;
  /** The store version this chart shows. */
  version: number;
  overlays: readonly RunOverlay[];
  /** Changes whenever an overlay's content does. */
  overlayKey: string;
  /** Changes whenever the stores' smoothed lines were recomputed (another β). */
  smoothed: number;
  logScale?: boolean;
  labelMarkers?: boolean;
  whatNext: string;
}

interface TickProps {
  x: number;
  y: number;
  textAnchor?: 'start' | 'middle' | 'end' | 'inherit';
  verticalAnchor?: 'start' | 'middle' | 'end';
  payload: { value: number };
}

const DY = { start: '0.71em', middle: '0.32em', end: '0' } as const;

/**
 * Tick labels as plain SVG text: recharts' <Text> measures each label in the DOM (for word
 * wrapping) on every update, a large share of an update's cost.
 */
function tick(format: (v: number) => string) {
  return function Tick(props: unknown) {
    const { x, y, textAnchor, verticalAnchor, payload } = props as TickProps;
    return (
      <text x={x} y={y} dy={DY[verticalAnchor ?? 'middle']} textAnchor={textAnchor === 'inherit' ? undefined : textAnchor} className={styles.tick}>
        {format(payload.value)}
      </text>
    );
  };
}

const COMPACT_TICK = tick(formatCompact);
const TICKS = new Map<ChartSpec, ReturnType<typeof tick>>();
function valueFormat(spec: ChartSpec): (v: number) => string {
  return spec.format ?? ((v: number) => formatNumber(v, 3));
}
function leftTick(spec: ChartSpec) {
  let t = TICKS.get(spec);
  if (!t) TICKS.set(spec, (t = tick(valueFormat(spec))));
  return t;
}

const MARKER_LABELS = new Map<string, (props: unknown) => ReactElement | null>();

/** A marker's label, as plain SVG text at the top of its line, right of it or left, in its row (one renderer per text and place, so props stay equal). */
function markerLabelRenderer(text: string, { row, leftOfLine }: MarkerPlace) {
  const id = `${row}|${leftOfLine ? 'left' : 'right'}|${text}`;
  const cached = MARKER_LABELS.get(id);
  if (cached) return cached;
  const render = function MarkerLabel(props: unknown) {
    const { viewBox } = props as { viewBox?: { x: number; y: number } };
    if (!viewBox) return null;
    return (
      <text
        x={leftOfLine ? viewBox.x - 3 : viewBox.x + 3}
        y={viewBox.y + 9 + 11 * row}
        textAnchor={leftOfLine ? 'end' : 'start'}
        className={styles['marker-label']}
        data-marker={text}
        data-side={leftOfLine ? 'left' : 'right'}
      >
        {text}
      </text>
    );
  };
  MARKER_LABELS.set(id, render);
  return render;
}

/** The previous value when equal to the new one: unchanged props let recharts skip its store updates. */
function useStable<T>(value: T, equal: (a: T, b: T) => boolean): T {
  const [held, setHeld] = useState(value);
  if (held !== value && !equal(held, value)) {
    setHeld(value);
    return value;
  }
  return held;
}

const sameAxis = (a: Axis | null, b: Axis | null) =>
  a === b || (a !== null && b !== null && a.domain[0] === b.domain[0] && a.domain[1] === b.domain[1] && a.ticks.length === b.ticks.length && a.ticks.every((t, i) => t === b.ticks[i]));
const sameMarkers = (a: ParamChange[], b: ParamChange[]) => a.length === b.length && a.every((m, i) => m === b[i]);

const CHART_MARGIN = { top: 6, right: 16, bottom: 0, left: 0 };
const CHART_MARGIN_RIGHT_AXIS = { ...CHART_MARGIN, right: 0 };
const INITIAL_SIZE = { width: 280, height: 120 };
const HIDDEN = { visibility: 'hidden' } as const;
const LEFT_AXIS_PX = 44;
const RIGHT_AXIS_PX = 34;

function linesOf(spec: ChartSpec, store: SeriesStore, overlays: readonly RunOverlay[]): Line[] {
  // Beside other runs, the current run's own lines say whose they are (chance levels are everyone's).
  const mine = (s: SeriesSpec) => (overlays.length > 0 && spec.overlay && !s.field.startsWith('chance') ? `this run ${s.name}` : s.name);
  const lines: Line[] = spec.series.map((s) => ({ key: s.field, store, spec: s, name: mine(s), overlay: false }));
  for (const o of overlays)
    for (const ov of spec.overlay ?? [])
      lines.push({
        key: `${o.id}-${ov.field}`,
        store: o.series,
        spec: { field: ov.field, name: ov.name ?? o.label, colour: o.colour, width: 1.6, dashed: ov.dashed },
        name: ov.name ? `${o.label} ${ov.name}` : o.label,
        overlay: true,
      });
  return lines;
}

function lastStep(store: SeriesStore): number {
  return store.length ? store.columns.step.at(store.length - 1) : 0;
}

/**
 * The value of `field` at exactly `step` in a store, or NaN where the run has no such step.
 * Runs count steps alike, so the same step of two runs is the same point of training.
 */
function valueAt(store: SeriesStore, field: SeriesField, step: number): number {
  const i = store.indexNear(step);
  return i >= 0 && store.columns.step.at(i) === step ? store.columns[field].at(i) : NaN;
}

/**
 * One chart. Everything recharts would otherwise work out on each update (ticks, domains, label
 * sizes) is computed here from the downsampled points, and recharts draws no tooltip or legend:
 * it measures text in the DOM for those, which made each update a long task. The read-out under
 * the plot gives every line's value at the pointer's step (or the last step), and the plot is
 * one named tab stop whose arrow keys move that step.
 */
const ChartCard = memo(function ChartCard({ spec, caption, store, version, overlays, overlayKey, smoothed, logScale, labelMarkers, whatNext }: ChartProps) {
  const uid = useId().replace(/:/g, '');
  const log = logScale ?? false;
  // The store is mutable: `version` says when its content changed (a few times per second at most).
  const view = useMemo(() => {
    const lines = linesOf(spec, store, overlays);
    let data = lines.map((l) => l.store.view(l.spec.field));
    if (log) data = data.map((d) => (d.every((p) => p.y > 0) ? d : d.filter((p) => p.y > 0)));
    const xMax = Math.max(1, lastStep(store), ...overlays.map((o) => lastStep(o.series)));
    return {
      lines,
      data,
      x: stepAxis(xMax),
      left: valueAxis(lines, data, 'left', spec.yRange, spec.fromZero, log),
      right: spec.rightAxis ? valueAxis(lines, data, 'right', undefined, true) : null,
      markers: store.markers.slice(-MAX_MARKERS),
    };
  }, [spec, store, version, overlays, overlayKey, smoothed, log]); // eslint-disable-line react-hooks/exhaustive-deps
  const { data, lines } = view;
  const x = useStable(view.x, sameAxis) as Axis;
  const left = useStable(view.left, sameAxis) as Axis;
  const right = useStable(view.right, sameAxis);
  const markers = useStable(view.markers, sameMarkers);
  const places = useMemo(() => (labelMarkers ? markerRows(markers, x.domain) : new Map<ParamChange, MarkerPlace>()), [markers, x, labelMarkers]);

  // The step under the pointer (or chosen with the keyboard); null: the read-out shows the last step.
  const [hover, setHover] = useState<{ step: number; keyboard: boolean } | null>(null);
  // Steps snap to the current run's, or to the longest overlay's while the current run has none.
  const reference = store.length ? store : (overlays.map((o) => o.series).sort((a, b) => b.length - a.length)[0] ?? store);
  // Points of the current run's longest line (overlays come after its lines).
  const currentPoints = Math.max(0, ...data.slice(0, spec.series.length).map((d) => d.length));
  const empty = data.every((d) => d.length === 0);
  const shownStep = hover?.step ?? lastStep(reference);

  const stepAtPointer = (e: PointerEvent<HTMLDivElement>): number | null => {
    const rect = e.currentTarget.getBoundingClientRect();
    const width = rect.width - LEFT_AXIS_PX - (right ? RIGHT_AXIS_PX : CHART_MARGIN.right);
    if (width <= 0 || reference.length === 0) return null;
    const at = x.domain[0] + ((e.clientX - rect.left - LEFT_AXIS_PX) / width) * (x.domain[1] - x.domain[0]);
    return reference.columns.step.at(reference.indexNear(at));
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const n = reference.length;
    if (n === 0) return;
    const current = hover ? reference.indexNear(hover.step) : n - 1;
    const jump = Math.max(1, Math.round(n / 10));
    const next = { ArrowLeft: current - 1, ArrowRight: current + 1, PageDown: current - jump, PageUp: current + jump, Home: 0, End: n - 1 }[e.key];
    if (e.key === 'Escape') setHover(null);
    else if (next === undefined) return;
    else setHover({ step: reference.columns.step.at(Math.min(n - 1, Math.max(0, next))), keyboard: true });
    e.preventDefault();
  };

  const readout = lines.map((l) => {
    const value = valueAt(l.store, l.spec.field, shownStep);
    return { line: l, value, text: readoutValue(spec, value) };
  });
  const changedHere = markers.filter((m) => m.fromStep === shownStep);
  const dots = hover
    ? readout.filter((r) => Number.isFinite(r.value) && (!log || r.value > 0)).map((r) => ({ key: r.line.key, y: r.value, axis: r.line.spec.axis ?? 'left', colour: r.line.spec.colour }))
    : [];
  const titleId = `${uid}-title`;
  const readoutId = `${uid}-readout`;

  return (
    <figure className={`${styles.chart} card`} data-testid={`chart-${spec.id}`} data-points={currentPoints} data-view={spec === LOSS_RATIO ? 'ratio' : undefined} data-scale={log ? 'log' : 'linear'} aria-labelledby={titleId}>
      <figcaption>
        <h3 id={titleId}>{spec.title}</h3>
        <p className="hint">{caption}</p>
        <ul className="legend-list" aria-label="Series">
          {spec.chanceLevel && (
            <li>
              <span className={`${styles.swatch} ${styles['swatch--dashed']}`} style={{ borderColor: C.grey }} />
              {spec.chanceLevel.name}
            </li>
          )}
          {lines.map((l) => (
            <li key={l.key} data-overlay={l.overlay ? l.key : undefined}>
              <span className={`${styles.swatch}${l.spec.dashed ? ` ${styles['swatch--dashed']}` : ''}`} style={{ borderColor: l.spec.colour, opacity: l.spec.opacity }} />
              {l.name}
              {l.spec.axis === 'right' ? ' (right)' : ''}
            </li>
          ))}
        </ul>
      </figcaption>
      {/* The plot is mounted from the start, hidden while empty: mounting a chart costs a long task, which the first step must not pay. */}
      <div className={styles['plot-area']}>
        {empty && (
          <div className={styles.empty} data-testid={`chart-empty-${spec.id}`}>
            {spec.empty} {whatNext}
          </div>
        )}
        <div
          className={styles.chart__plot}
          style={empty ? HIDDEN : undefined}
          aria-hidden={empty || undefined}
          // The plot is a cursor over the steps: arrow keys move it, the read-out says the values there.
          tabIndex={0}
          role="slider"
          aria-label={`${spec.title}: step to read`}
          aria-valuemin={reference.length ? reference.columns.step.at(0) : 0}
          aria-valuemax={lastStep(reference)}
          aria-valuenow={shownStep}
          aria-valuetext={`step ${formatInt(shownStep)}`}
          aria-describedby={readoutId}
          onPointerMove={(e) => {
            const step = stepAtPointer(e);
            if (step !== null && step !== hover?.step) setHover({ step, keyboard: false });
          }}
          onPointerLeave={() => setHover((h) => (h?.keyboard ? h : null))}
          onKeyDown={onKeyDown}
          onBlur={() => setHover(null)}
        >
          <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL_SIZE}>
            <LineChart margin={right ? CHART_MARGIN_RIGHT_AXIS : CHART_MARGIN} accessibilityLayer={false}>
              <CartesianGrid stroke="var(--grid)" vertical={false} horizontalValues={left.ticks} />
              <XAxis dataKey="x" type="number" domain={x.domain} ticks={x.ticks} interval={0} niceTicks="none" allowDataOverflow tick={COMPACT_TICK} height={18} />
              <YAxis yAxisId="left" type="number" scale={log ? 'log' : 'auto'} domain={left.domain} ticks={left.ticks} interval={0} niceTicks="none" allowDataOverflow tick={leftTick(spec)} width={LEFT_AXIS_PX} />
              {right && <YAxis yAxisId="right" orientation="right" type="number" domain={right.domain} ticks={right.ticks} interval={0} niceTicks="none" allowDataOverflow tick={COMPACT_TICK} width={RIGHT_AXIS_PX} />}
              <PlotClip id={`${uid}-clip`} />
              <StepAxisLabel />
              {spec.chanceLevel && <ReferenceLine yAxisId="left" y={spec.chanceLevel.y} className={styles.chance} strokeDasharray="4 3" />}
              {markers.map((mk) => {
                const place = places.get(mk);
                return (
                  <ReferenceLine
                    key={`${mk.runId}-${mk.fromStep}`}
                    yAxisId="left"
                    x={mk.fromStep}
                    className={styles.marker}
                    strokeDasharray="4 3"
                    label={place ? markerLabelRenderer(markerLabel(mk), place) : undefined}
                  />
                );
              })}
              {lines.map((l, i) => (
                <SeriesLine key={l.key} line={l} points={data[i]} clipId={`${uid}-clip`} />
              ))}
              {hover && <Crosshair step={hover.step} dots={dots} />}
            </LineChart>
          </ResponsiveContainer>
        </div>
      </div>
      {!empty && (
        <p className={`readout ${styles.readout}`} id={readoutId} data-testid={`readout-${spec.id}`} data-step={shownStep} aria-live={hover?.keyboard ? 'polite' : 'off'} aria-atomic="true">
          <span className="readout__step">{hover ? 'step' : 'last step'} {formatInt(shownStep)}</span>
          {readout.map((r) => (
            <span key={r.line.key} className="readout__item" data-overlay={r.line.overlay ? r.line.key : undefined}>
              <span className={styles.dot} style={{ background: r.line.spec.colour }} />
              {r.line.name} <b>{r.text}</b>
            </span>
          ))}
          {changedHere.length > 0 && <span className={styles.readout__change}>set here: {changedHere.map(markerLabel).join('; ')}</span>}
        </p>
      )}
    </figure>
  );
});

/** A read-out value: more digits than the axis's ticks. */
function readoutValue(spec: ChartSpec, v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (spec === ACCURACY) return `${(100 * v).toFixed(1)}%`;
  if (spec === LEARNING_RATE) return formatLearningRate(v);
  return Number.isInteger(v) ? formatInt(v) : formatNumber(v, 4);
}

const CHARTS: ChartSpec[] = [LOSS, ACCURACY, SIMILARITY, QUEUE, KEY_ENCODER, THROUGHPUT, LEARNING_RATE];

/**
 * The colours of the current run's own lines on each chart that draws other runs beside it (its
 * chance level included): what an overlaid run's colour must never be mistaken for.
 */
export const CURRENT_RUN_COLOURS: readonly { chart: string; colours: readonly string[] }[] = [...CHARTS, LOSS_RATIO]
  .filter((spec) => spec.overlay)
  .map((spec) => ({ chart: spec.title, colours: [...spec.series.map((s) => s.colour), ...(spec.chanceLevel ? [C.grey] : [])] }));

/**
 * Brings each chart up to `version` in turn, one chart per task: one update of all six at once is
 * a single long task on a slow machine, one chart at a time never is.
 */
function useStaggeredVersions(version: number, count: number): number[] {
  const [shown, setShown] = useState(() => new Array<number>(count).fill(version));
  const target = useRef(version);
  const running = useRef(false);
  useEffect(() => {
    target.current = version;
    if (running.current) return;
    running.current = true;
    let i = 0;
    let timer: ReturnType<typeof setTimeout>;
    const advance = () => {
      const v = target.current;
      const index = i;
      setShown((s) => (s[index] === v ? s : s.map((old, j) => (j === index ? v : old))));
      i = (i + 1) % count;
      // Go round again while some chart is behind the latest version.
      if (i !== 0 || target.current !== v) timer = setTimeout(advance, 0);
      else running.current = false;
    };
    timer = setTimeout(advance, 0);
    return () => {
      clearTimeout(timer);
      running.current = false;
    };
  }, [version, count]);
  return shown;
}

/** The chart options a user sets, kept for the next visit. */
interface ChartOptions {
  smoothing: number;
  lossView: 'loss' | 'ratio';
  logLoss: boolean;
}
const OPTIONS_KEY = 'moco-chart-options';
const DEFAULT_OPTIONS: ChartOptions = { smoothing: DEFAULT_SMOOTHING, lossView: 'loss', logLoss: false };

function loadOptions(): ChartOptions {
  try {
    const saved = JSON.parse(localStorage.getItem(OPTIONS_KEY) ?? '{}') as Partial<ChartOptions>;
    const smoothing = typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing <= MAX_SMOOTHING ? saved.smoothing : DEFAULT_OPTIONS.smoothing;
    return { smoothing, lossView: saved.lossView === 'ratio' ? 'ratio' : 'loss', logLoss: saved.logLoss === true };
  } catch {
    return DEFAULT_OPTIONS;
  }
}

const NO_OVERLAYS: readonly RunOverlay[] = [];

export const Charts = memo(function Charts({
  store,
  version,
  queueSize,
  batchSize,
  overlays = NO_OVERLAYS,
  knn,
  whatNext = START,
}: {
  store: SeriesStore;
  version: number;
  queueSize: number;
  batchSize: number;
  /** Other runs drawn on the loss, accuracy and similarity charts (default none). */
  overlays?: readonly RunOverlay[];
  /** The current run's kNN accuracy (0..1) against the step, for the export (the kNN chart draws it). */
  knn?: readonly Point[];
  /** Said in an empty chart after what it will show: what brings the first step (default: Start). */
  whatNext?: string;
}) {
  const uid = useId();
  const shown = useStaggeredVersions(version, CHARTS.length);
  const [options, setOptions] = useState(loadOptions);
  const update = (change: Partial<ChartOptions>) =>
    setOptions((o) => {
      const next = { ...o, ...change };
      try {
        localStorage.setItem(OPTIONS_KEY, JSON.stringify(next));
      } catch {
        // Storage refused (private mode, quota): the options hold for this visit only.
      }
      return next;
    });
  // Every store drawn smooths alike: the slider sets β on the stores drawn, and a store that comes
  // to be drawn (a replay's, another run's) takes it before the page is painted. `smoothed` counts
  // these recomputations, for the charts' memoised views.
  const stores = useMemo(() => [store, ...overlays.map((o) => o.series)], [store, overlays]);
  const [smoothed, setSmoothed] = useState(0);
  const setSmoothing = (beta: number) => {
    for (const s of stores) s.setSmoothing(beta);
    setSmoothed((n) => n + 1);
    update({ smoothing: beta });
  };
  useLayoutEffect(() => {
    const behind = stores.filter((s) => s.smoothing !== options.smoothing);
    if (behind.length === 0) return;
    for (const s of behind) s.setSmoothing(options.smoothing);
    // One more render, before paint and only when a store came with another β: the stores live outside React.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setSmoothed((n) => n + 1);
  }, [stores, options.smoothing]);
  const overlayKey = overlays.map((o) => `${o.id}:${o.series.version}:${o.knn.length}`).join(',');

  const lnK = chanceLoss(queueSize).toFixed(2);
  const captions: Record<string, string> = {
    loss:
      options.lossView === 'ratio'
        ? 'The loss divided by ln(n+1), its value for embeddings that carry no information: 1 is chance at any queue size, so a change of K does not move it. Learning takes it below 1.'
        : `Random embeddings score ln(n+1) against n negatives: ln(K+1) = ${lnK} once the queue is full. Learning pushes the loss below.`,
    accuracy: 'How often the query picks its positive key out of the n+1 candidates.',
    similarity: 'Cosine similarity: two views of one image pulled together, other images pushed apart.',
    queue: `Each step enqueues ${batchSize} keys. Old keys come from an older key encoder: a large m keeps them consistent.`,
    'key-encoder': 'How far the momentum encoder trails the query encoder (0 at m = 0), and how alike their embeddings of the same images are (1 = the same encoder).',
    throughput: 'Images per second, augmentations and both encoders included.',
    lr: 'SGD rate of the query encoder (MoCo v2: cosine decay over the step budget).',
  };
  const exportAs = (kind: 'csv' | 'json') => {
    const table = seriesTable([{ label: null, series: store, knn }, ...overlays.map((o) => ({ label: o.label, series: o.series, knn: o.knn }))]);
    const name = `moco-charts-step${lastStep(store)}.${kind}`;
    if (kind === 'csv') saveBlob(new Blob([toCsv(table)], { type: 'text/csv' }), name);
    else saveBlob(new Blob([toJson(table)], { type: 'application/json' }), name);
  };
  const nothing = store.length === 0 && overlays.every((o) => o.series.length === 0);
  return (
    <section className={styles.section} aria-label="Training charts">
      <div className={styles.toolbar}>
        {/* The terms are explained beside their controls, not inside a <label>, whose control they would become. */}
        <span className={styles.option}>
          <Term id="smoothing">Smoothing</Term>
          <input
            type="range"
            min={0}
            max={MAX_SMOOTHING}
            step={0.01}
            value={options.smoothing}
            onChange={(e) => setSmoothing(Number(e.target.value))}
            data-testid="smoothing"
            aria-label="Smoothing"
            aria-valuetext={options.smoothing.toFixed(2)}
          />
          <output data-testid="smoothing-value">{options.smoothing.toFixed(2)}</output>
        </span>
        <span className={styles.option}>
          <label htmlFor={`${uid}-loss-view`}>Loss</label>
          <select
            id={`${uid}-loss-view`} value={options.lossView} onChange={(e) => update({ lossView: e.target.value === 'ratio' ? 'ratio' : 'loss' })} data-testid="loss-view">
            <option value="loss">as it is</option>
            <option value="ratio">÷ chance ln(n+1)</option>
          </select>
          <Term id="lossRatio">÷ chance?</Term>
        </span>
        <label className={styles.option}>
          <input type="checkbox" checked={options.logLoss} onChange={(e) => update({ logLoss: e.target.checked })} data-testid="loss-log" />
          log scale
        </label>
        <span className={styles.export}>
          Export every series:
          <button type="button" className="btn" disabled={nothing} onClick={() => exportAs('csv')} data-testid="export-csv">
            CSV
          </button>
          <button type="button" className="btn" disabled={nothing} onClick={() => exportAs('json')} data-testid="export-json">
            JSON
          </button>
        </span>
      </div>
      <div className={styles.charts}>
        {CHARTS.map((spec, i) => {
          const shownSpec = spec === LOSS && options.lossView === 'ratio' ? LOSS_RATIO : spec;
          return (
            <ChartCard
              key={spec.id}
              spec={shownSpec}
              caption={captions[spec.id]}
              store={store}
              version={shown[i]}
              overlays={spec.overlay ? overlays : NO_OVERLAYS}
              overlayKey={spec.overlay ? overlayKey : ''}
              smoothed={smoothed}
              logScale={spec === LOSS && options.logLoss}
              labelMarkers={spec.id === 'loss' || spec.id === 'queue'}
              whatNext={whatNext}
            />
          );
        })}
      </div>
    </section>
  );
});
