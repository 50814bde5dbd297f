import { memo, useId, useMemo, useState, type PointerEvent } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, XAxis, YAxis } from 'recharts';
import type { KnnResult } from '../../worker/evaluationTypes';
import { formatCompact, formatInt } from '../format';
import type { RunOverlay } from '../series';
import { stepAxis } from '../ticks';
import { StepAxisLabel } from './Charts';
import styles from './KnnChart.module.css';

const MARGIN = { top: 8, right: 16, bottom: 0, left: 0 };
const INITIAL_SIZE = { width: 320, height: 160 };
const LEFT_AXIS_PX = 40;
/** The current run's kNN line (overlaid runs' colours keep clear of it). */
export const CURRENT_COLOUR = 'var(--chart-knn)';
const NO_OVERLAYS: readonly RunOverlay[] = [];

export function percent(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '–';
}

interface KnnLine {
  key: string;
  name: string;
  colour: string;
  data: { step: number; accuracy: number }[];
  overlay: boolean;
}

/**
 * kNN accuracy against the step, with chance (one over the number of classes) dashed, for this run
 * and any overlaid runs (each in its colour). Results are few (one per monitor run), so recharts
 * draws them as they are. The read-out under the plot gives every run's accuracy at the kNN step
 * nearest the pointer (or the last one). `label` names the line of `results` (a replay's is the
 * recording's, not this tab's run).
 */
export const KnnChart = memo(function KnnChart({ results, overlays = NO_OVERLAYS, label }: { results: KnnResult[]; overlays?: readonly RunOverlay[]; label?: string }) {
  const uid = useId().replace(/:/g, '');
  const lines = useMemo<KnnLine[]>(
    () => [
      { key: 'current', name: label ?? (overlays.length ? 'this run' : 'kNN accuracy'), colour: CURRENT_COLOUR, data: results.map((r) => ({ step: r.step, accuracy: 100 * r.accuracy })), overlay: false },
      ...overlays.map((o) => ({ key: o.id, name: o.label, colour: o.colour, data: o.knn.map((p) => ({ step: p.x, accuracy: 100 * p.y })), overlay: true })),
    ],
    [results, overlays, label],
  );
  const all = lines.flatMap((l) => l.data);
  const classes = results.at(-1)?.classNames.length ?? 10;
  const chance = 100 / classes;
  // Round ticks: 5-point steps up to 25%, 10 up to 50%, then the whole 0–100%.
  const top = Math.min(100, Math.max(chance * 2, ...all.map((d) => d.accuracy)) * 1.15);
  const tickStep = top <= 25 ? 5 : top <= 50 ? 10 : 25;
  const yMax = top > 50 ? 100 : Math.ceil(top / tickStep) * tickStep;
  const yTicks = Array.from({ length: yMax / tickStep + 1 }, (_, i) => i * tickStep);
  // The same step axis as the training charts: it ends at the last kNN step, round ticks inside.
  const x = stepAxis(Math.max(0, ...all.map((d) => d.step)));
  const xMax = x.domain[1];
  const steps = useMemo(() => [...new Set(lines.flatMap((l) => l.data.map((d) => d.step)))].sort((a, b) => a - b), [lines]);
  const [hover, setHover] = useState<number | null>(null);
  const shownStep = hover ?? steps.at(-1) ?? 0;

  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const width = rect.width - LEFT_AXIS_PX - MARGIN.right;
    if (width <= 0 || steps.length === 0) return;
    const at = ((e.clientX - rect.left - LEFT_AXIS_PX) / width) * xMax;
    const nearest = steps.reduce((best, s) => (Math.abs(s - at) < Math.abs(best - at) ? s : best), steps[0]);
    if (nearest !== hover) setHover(nearest);
  };
  const readoutId = `${uid}-readout`;
  if (all.length === 0)
    return (
      <div className={styles.empty} data-testid="knn-chart" data-points={0}>
        kNN accuracy on the held-out images will appear here each time the monitor runs.
      </div>
    );
  return (
    <div className={styles.wrap}>
      {overlays.length > 0 && (
        <ul className="legend-list" aria-label="Runs">
          {lines.map((l) => (
            <li key={l.key} data-overlay={l.overlay ? l.key : undefined}>
              <span className={styles.swatch} style={{ borderColor: l.colour }} />
              {l.name}
            </li>
          ))}
        </ul>
      )}
      <div
        className={styles['knn-chart']}
        data-testid="knn-chart"
        data-points={lines[0].data.length}
        role="img"
        aria-label="kNN accuracy against the step; the values are read out below"
        aria-describedby={readoutId}
        onPointerMove={onPointerMove}
        onPointerLeave={() => setHover(null)}
      >
        <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL_SIZE}>
          <LineChart margin={MARGIN} accessibilityLayer={false}>
            <CartesianGrid stroke="var(--grid)" vertical={false} />
            <XAxis dataKey="step" type="number" domain={x.domain} ticks={x.ticks} interval={0} niceTicks="none" allowDataOverflow tickFormatter={formatCompact} fontSize={10} height={18} />
            <YAxis type="number" domain={[0, yMax]} ticks={yTicks} interval={0} tickFormatter={(v: number) => `${v}%`} fontSize={10} width={LEFT_AXIS_PX} />
            <StepAxisLabel />
            <ReferenceLine y={chance} className={styles.chance} strokeDasharray="4 3" />
            {hover !== null && <ReferenceLine x={hover} className={styles.crosshair} />}
            {lines.map((l) => (
              <Line
                key={l.key}
                data={l.data}
                dataKey="accuracy"
                type="linear"
                style={{ stroke: l.colour }}
                strokeWidth={l.overlay ? 1.6 : 2}
                dot={{ r: l.overlay ? 2.5 : 3, style: { fill: l.colour, stroke: l.colour } }}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <p className="readout" id={readoutId} data-testid="knn-readout">
        <span className="readout__step">
          {hover === null ? 'last kNN at step' : 'step'} {formatInt(shownStep)}
        </span>
        {lines.map((l) => {
          const point = l.data.find((d) => d.step === shownStep);
          return (
            <span key={l.key} className="readout__item">
              <span className={styles.dot} style={{ background: l.colour }} />
              {l.name} <b>{point ? `${point.accuracy.toFixed(1)}%` : '–'}</b>
            </span>
          );
        })}
        <span>chance {chance.toFixed(1)}%</span>
      </p>
    </div>
  );
});

/** Per-class accuracy of one kNN result (or probe). */
export function PerClassTable({ perClass, classNames, testId }: { perClass: KnnResult['perClass']; classNames: string[]; testId: string }) {
  return (
    <table className="per-class" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">class</th>
          <th scope="col">correct</th>
          <th scope="col">accuracy</th>
        </tr>
      </thead>
      <tbody>
        {perClass.map((c, k) => (
          <tr key={classNames[k] ?? k}>
            <th scope="row">{classNames[k] ?? k}</th>
            {/* A result kept by a checkpoint or a recording has the accuracies only, no counts. */}
            <td>{c.total > 0 ? `${c.correct} / ${c.total}` : '–'}</td>
            <td>
              <span className="per-class__bar" style={{ width: `${Number.isFinite(c.accuracy) ? 100 * c.accuracy : 0}%` }} />
              {percent(c.accuracy, 0)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
