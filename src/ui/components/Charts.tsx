import { memo, useEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import { CartesianGrid, LineChart, ReferenceLine, ResponsiveContainer, usePlotArea, useXAxisScale, useYAxisScale, XAxis, YAxis } from 'recharts';
import type { ParamChange } from '../../worker/types';
import { formatCompact, formatMomentum, formatNumber } from '../format';
import type { Point, SeriesField, SeriesStore } from '../series';
import { niceAxis, stepAxis, type Axis } from '../ticks';
import styles from './Charts.module.css';

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

interface ChartSpec {
  id: string;
  title: string;
  series: SeriesSpec[];
  /** Fixed y range; otherwise the data's, widened to round ticks (from 0 with `fromZero`). */
  yRange?: [number, number];
  fromZero?: boolean;
  rightAxis?: boolean;
  format?: (v: number) => string;
}

const C = {
  query: '#2563eb',
  key: '#ea580c',
  raw: '#93c5fd',
  smooth: '#1d4ed8',
  positive: '#16a34a',
  negative: '#dc2626',
  queue: '#0d9488',
  age: '#7c3aed',
  grey: '#64748b',
  marker: '#a21caf',
};

const LOSS: ChartSpec = {
  id: 'loss',
  title: 'InfoNCE loss',
  fromZero: true,
  series: [
    { field: 'chanceLoss', name: 'chance ln(n+1)', colour: C.grey, width: 1.2, dashed: true },
    { field: 'loss', name: 'raw', colour: C.raw, width: 1 },
    { field: 'lossSmoothed', name: 'smoothed', colour: C.smooth, width: 2 },
  ],
};
const ACCURACY: ChartSpec = {
  id: 'accuracy',
  title: 'Contrastive accuracy',
  series: [
    { field: 'chanceAccuracy', name: 'chance 1/(n+1)', colour: C.grey, width: 1.2, dashed: true },
    { field: 'contrastiveAccuracy', name: 'top-1', colour: C.query, width: 1.5 },
  ],
  yRange: [0, 1],
  format: (v) => `${Math.round(v * 100)}%`,
};
const SIMILARITY: ChartSpec = {
  id: 'similarity',
  title: 'Positive vs negative similarity',
  series: [
    { field: 'meanPositiveSimilarity', name: 'positive q·k₊', colour: C.positive, width: 1.5 },
    { field: 'meanNegativeSimilarity', name: 'negatives q·kᵢ', colour: C.negative, width: 1.5 },
  ],
  yRange: [-1, 1],
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
};
const THROUGHPUT: ChartSpec = {
  id: 'throughput',
  title: 'Throughput',
  series: [{ field: 'imagesPerSecond', name: 'images/s', colour: C.key, width: 1.5 }],
  fromZero: true,
  format: formatCompact,
};
const LEARNING_RATE: ChartSpec = {
  id: 'lr',
  title: 'Learning rate',
  series: [{ field: 'learningRate', name: 'lr', colour: C.grey, width: 1.5, stepped: true }],
  fromZero: true,
  format: (v) => (v === 0 ? '0' : v.toExponential(1)),
};

/** Markers drawn at most: the most recent changes. */
const MAX_MARKERS = 40;

function markerLabel(change: ParamChange): string {
  const p = change.params;
  const parts: string[] = [];
  if (p.momentum !== undefined) parts.push(`m ${formatMomentum(p.momentum)}`);
  if (p.queueSize !== undefined) parts.push(`K ${formatCompact(p.queueSize)}`);
  if (p.temperature !== undefined) parts.push(`T ${formatNumber(p.temperature, 2)}`);
  if (p.learningRate !== undefined) parts.push(`lr ${formatNumber(p.learningRate, 2)}`);
  return parts.join(' ');
}

function valueAxis(series: SeriesSpec[], data: (readonly Point[])[], side: 'left' | 'right', range?: [number, number], fromZero?: boolean): Axis {
  if (range) return niceAxis(range[0], range[1]);
  let lo = fromZero ? 0 : Infinity;
  let hi = fromZero ? 0 : -Infinity;
  series.forEach((s, i) => {
    if ((s.axis ?? 'left') !== side) return;
    for (const p of data[i]) {
      if (p.y < lo) lo = p.y;
      if (p.y > hi) hi = p.y;
    }
  });
  if (lo > hi) return niceAxis(0, 1);
  // A flat series from zero (a loss of 0 while the queue is empty, an age of 0) still gets a range above it.
  if (fromZero && lo === hi) return niceAxis(0, hi > 0 ? hi : 1);
  return niceAxis(lo, hi);
}

/** SVG path data through the points, as straight segments or as steps (value held until the next point). */
function pathData(points: readonly Point[], x: (v: number) => number, y: (v: number) => number, stepped: boolean): string {
  let d = '';
  for (let i = 0; i < points.length; i++) {
    // One decimal is sub-pixel; rounding by hand is much faster than toFixed.
    const px = Math.round(x(points[i].x) * 10) / 10;
    const py = Math.round(y(points[i].y) * 10) / 10;
    if (i === 0) d = `M${px},${py}`;
    else if (stepped) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
  }
  return d;
}

/**
 * One series, drawn as a single SVG path through recharts' own axis scales (its public hooks).
 * recharts' <Line> keeps every point in its state store and re-measures the path on each update;
 * at 1,000 points a series and six charts that made each update a long task here.
 */
function SeriesLine({ spec, points, clipId }: { spec: SeriesSpec; points: readonly Point[]; clipId: string }) {
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
    <g  clipPath={`url(#${clipId}-${spec.field})`}>
      <clipPath id={`${clipId}-${spec.field}`}>
        <rect x={plot.x - 2} y={plot.y - 2} width={plot.width + 4} height={plot.height + 4} />
      </clipPath>
      <path
        d={d}
        fill="none"
        stroke={spec.colour}
        strokeWidth={spec.width ?? 1.5}
        strokeOpacity={spec.opacity ?? 1}
        strokeDasharray={spec.dashed ? '4 3' : undefined}
        strokeLinejoin="round"
        data-series={spec.field}
        data-points={points.length}
      />
      {single && <circle cx={single.cx} cy={single.cy} r={2.5} fill={spec.colour} />}
    </g>
  );
}

interface ChartProps {
  spec: ChartSpec;
  caption: string;
  store: SeriesStore;
  /** The store version this chart shows. */
  version: number;
  labelMarkers?: boolean;
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
function leftTick(spec: ChartSpec) {
  let t = TICKS.get(spec);
  if (!t) TICKS.set(spec, (t = tick(spec.format ?? ((v: number) => formatNumber(v, 3)))));
  return t;
}

const MARKER_LABELS = new Map<string, (props: unknown) => ReactElement | null>();

/** A marker's label, as plain SVG text at the top left of its line (one renderer per text, so props stay equal). */
function markerLabelRenderer(text: string) {
  const cached = MARKER_LABELS.get(text);
  if (cached) return cached;
  const render = function MarkerLabel(props: unknown) {
    const { viewBox } = props as { viewBox?: { x: number; y: number } };
    if (!viewBox) return null;
    return (
      <text x={viewBox.x + 3} y={viewBox.y + 9} className={styles['marker-label']}>
        {text}
      </text>
    );
  };
  MARKER_LABELS.set(text, render);
  return render;
}

/**
 * One chart. Everything recharts would otherwise work out on each update (ticks, domains, label
 * sizes) is computed here from the downsampled points, and there is no tooltip or legend
 * component: recharts measures text in the DOM for those, which made each update a long task.
 */
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

const ChartCard = memo(function ChartCard({ spec, caption, store, version, labelMarkers }: ChartProps) {
  // The store is mutable: `version` says when its content changed (a few times per second at most).
  const view = useMemo(() => {
    const data = spec.series.map((s) => store.view(s.field));
    const xMax = store.length ? store.columns.step.at(store.length - 1) : 1;
    return {
      data,
      x: stepAxis(xMax),
      left: valueAxis(spec.series, data, 'left', spec.yRange, spec.fromZero),
      right: spec.rightAxis ? valueAxis(spec.series, data, 'right', undefined, true) : null,
      markers: store.markers.slice(-MAX_MARKERS),
    };
  }, [spec, store, version]); // eslint-disable-line react-hooks/exhaustive-deps
  const { data } = view;
  const x = useStable(view.x, sameAxis) as Axis;
  const left = useStable(view.left, sameAxis) as Axis;
  const right = useStable(view.right, sameAxis);
  const markers = useStable(view.markers, sameMarkers);
  // Labels only where they do not overlap: a marker closer than 8% of the axis to the last labelled one stays a bare line.
  const labelled = useMemo(() => {
    const set = new Set<ParamChange>();
    if (!labelMarkers) return set;
    const gap = 0.08 * (x.domain[1] - x.domain[0]);
    let lastX = -Infinity;
    for (const mk of markers) {
      if (mk.fromStep - lastX < gap) continue;
      set.add(mk);
      lastX = mk.fromStep;
    }
    return set;
  }, [markers, x, labelMarkers]);
  return (
    <figure className={`${styles.chart} card`} data-testid={`chart-${spec.id}`} data-points={Math.max(...data.map((d) => d.length))} aria-label={spec.title}>
      <figcaption>
        <h3>{spec.title}</h3>
        <p className="hint">{caption}</p>
        <ul className="legend-list" aria-label="Series">
          {spec.series.map((s) => (
            <li key={s.field}>
              <span className={`${styles.swatch}${s.dashed ? ` ${styles['swatch--dashed']}` : ''}`} style={{ borderColor: s.colour }} />
              {s.name}
              {s.axis === 'right' ? ' (right)' : ''}
            </li>
          ))}
        </ul>
      </figcaption>
      <div className={styles.chart__plot}>
        <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL_SIZE}>
          <LineChart margin={right ? CHART_MARGIN_RIGHT_AXIS : CHART_MARGIN}>
            <CartesianGrid stroke="var(--grid)" vertical={false} horizontalValues={left.ticks} />
            <XAxis dataKey="x" type="number" domain={x.domain} ticks={x.ticks} interval={0} niceTicks="none" allowDataOverflow tick={COMPACT_TICK} height={18} />
            <YAxis yAxisId="left" type="number" domain={left.domain} ticks={left.ticks} interval={0} niceTicks="none" allowDataOverflow tick={leftTick(spec)} width={44} />
            {right && <YAxis yAxisId="right" orientation="right" type="number" domain={right.domain} ticks={right.ticks} interval={0} niceTicks="none" allowDataOverflow tick={COMPACT_TICK} width={34} />}
            {markers.map((mk) => (
              <ReferenceLine
                key={`${mk.runId}-${mk.fromStep}`}
                yAxisId="left"
                x={mk.fromStep}
                stroke={C.marker}
                strokeDasharray="4 3"
                label={labelled.has(mk) ? markerLabelRenderer(markerLabel(mk)) : undefined}
              />
            ))}
            {spec.series.map((s, i) => (
              <SeriesLine key={s.field} spec={s} points={data[i]} clipId={`clip-${spec.id}`} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
});

const CHARTS: ChartSpec[] = [LOSS, ACCURACY, SIMILARITY, QUEUE, KEY_ENCODER, THROUGHPUT, LEARNING_RATE];

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

export const Charts = memo(function Charts({ store, version, queueSize, batchSize }: { store: SeriesStore; version: number; queueSize: number; batchSize: number }) {
  const shown = useStaggeredVersions(version, CHARTS.length);
  const lnK = Math.log(queueSize + 1).toFixed(2);
  const captions: Record<string, string> = {
    loss: `Random embeddings score ln(n+1) against n negatives: ln(K+1) = ${lnK} once the queue is full. Learning pushes the loss below.`,
    accuracy: 'How often the query picks its positive key out of the n+1 candidates.',
    similarity: 'Cosine similarity: two views of one image pulled together, other images pushed apart.',
    queue: `Each step enqueues ${batchSize} keys. Old keys come from an older key encoder: a large m keeps them consistent.`,
    'key-encoder': 'How far the momentum encoder trails the query encoder (0 at m = 0), and how alike their embeddings of the same images are (1 = the same encoder).',
    throughput: 'Images per second, augmentations and both encoders included.',
    lr: 'SGD rate of the query encoder (MoCo v2: cosine decay over the step budget).',
  };
  return (
    <div className={styles.charts}>
      {CHARTS.map((spec, i) => (
        <ChartCard key={spec.id} spec={spec} caption={captions[spec.id]} store={store} version={shown[i]} labelMarkers={spec.id === 'loss' || spec.id === 'queue'} />
      ))}
    </div>
  );
});
