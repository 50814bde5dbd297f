import { memo, useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, XAxis, YAxis } from 'recharts';
import type { KnnResult } from '../../worker/evaluationTypes';
import { formatCompact } from '../format';
import type { RunOverlay } from '../series';
import styles from './KnnChart.module.css';

const MARGIN = { top: 8, right: 16, bottom: 0, left: 0 };
const INITIAL_SIZE = { width: 320, height: 160 };

export function percent(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '–';
}

/**
 * kNN accuracy against the step, with chance (one over the number of classes) dashed. Results are
 * few (one per monitor run), so recharts draws them as they are.
 */
export const KnnChart = memo(function KnnChart({ results, overlays = [] }: { results: KnnResult[]; overlays?: RunOverlay[] }) {
  const data = useMemo(() => results.map((r) => ({ step: r.step, accuracy: 100 * r.accuracy })), [results]);
  // Other runs' kNN results, in their colours.
  const others = useMemo(() => overlays.filter((o) => o.knn.length > 0).map((o) => ({ overlay: o, data: o.knn.map((p) => ({ step: p.x, accuracy: 100 * p.y })) })), [overlays]);
  const all = [...data, ...others.flatMap((o) => o.data)];
  const classes = results.at(-1)?.classNames.length ?? 10;
  const chance = 100 / classes;
  // Round ticks: 5-point steps up to 25%, 10 up to 50%, then the whole 0–100%.
  const top = Math.min(100, Math.max(chance * 2, ...all.map((d) => d.accuracy)) * 1.15);
  const tickStep = top <= 25 ? 5 : top <= 50 ? 10 : 25;
  const yMax = top > 50 ? 100 : Math.ceil(top / tickStep) * tickStep;
  const yTicks = Array.from({ length: yMax / tickStep + 1 }, (_, i) => i * tickStep);
  const xMax = Math.max(1, ...all.map((d) => d.step));
  return (
    <div className={styles['knn-chart']} data-testid="knn-chart" data-points={data.length}>
      <ResponsiveContainer width="100%" height="100%" initialDimension={INITIAL_SIZE}>
        <LineChart data={data} margin={MARGIN}>
          <CartesianGrid stroke="var(--grid)" vertical={false} />
          <XAxis dataKey="step" type="number" domain={[0, xMax]} allowDecimals={false} tickFormatter={formatCompact} fontSize={10} height={18} />
          <YAxis type="number" domain={[0, yMax]} ticks={yTicks} interval={0} tickFormatter={(v: number) => `${v}%`} fontSize={10} width={40} />
          <ReferenceLine y={chance} stroke="#64748b" strokeDasharray="4 3" />
          <Line dataKey="accuracy" type="linear" stroke="#7c3aed" strokeWidth={2} dot={{ r: 3, fill: '#7c3aed' }} isAnimationActive={false} />
          {others.map(({ overlay, data: points }) => (
            <Line key={overlay.id} data={points} dataKey="accuracy" name={overlay.label} type="linear" stroke={overlay.colour} strokeWidth={1.5} dot={{ r: 2.5, fill: overlay.colour }} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
      {others.length > 0 && (
        <ul className="legend-list" aria-label="Other runs">
          {others.map(({ overlay }) => (
            <li key={overlay.id} data-testid="knn-overlay-legend" style={{ color: overlay.colour }}>
              ● <span style={{ color: 'var(--text, inherit)' }}>{overlay.label}</span>
            </li>
          ))}
        </ul>
      )}
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
            <td>
              {c.correct} / {c.total}
            </td>
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
