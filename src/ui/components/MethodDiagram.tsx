import { memo } from 'react';
import type { QueueSnapshot, StepRecord } from '../../worker/types';
import { formatInt, formatMomentum, formatNumber } from '../format';
import { glossaryLine } from '../glossary';
import styles from './MethodDiagram.module.css';

/** The statistics of the last step that the diagram writes on it. */
export type DiagramStats = Pick<StepRecord, 'loss' | 'meanPositiveSimilarity' | 'meanNegativeSimilarity' | 'keyLag' | 'keyConsistency' | 'meanKeyAge'>;

/** What the diagram shows of a step's record (null before the first step). */
export function diagramStats(last: StepRecord | null): DiagramStats | null {
  if (!last) return null;
  const { loss, meanPositiveSimilarity, meanNegativeSimilarity, keyLag, keyConsistency, meanKeyAge } = last;
  return { loss, meanPositiveSimilarity, meanNegativeSimilarity, keyLag, keyConsistency, meanKeyAge };
}

interface Props {
  /** m as the Worker runs it. */
  momentum: number | null;
  queue: QueueSnapshot | null;
  last: DiagramStats | null;
}

const RING = { cx: 774, cy: 104, outer: 86, inner: 60 };

function polar(r: number, angle: number): [number, number] {
  return [RING.cx + r * Math.cos(angle), RING.cy + r * Math.sin(angle)];
}

/** An annular sector from angle a0 to a1 (radians, clockwise from 12 o'clock). */
function sector(a0: number, a1: number): string {
  const start = -Math.PI / 2;
  const [x0, y0] = polar(RING.outer, start + a0);
  const [x1, y1] = polar(RING.outer, start + a1);
  const [x2, y2] = polar(RING.inner, start + a1);
  const [x3, y3] = polar(RING.inner, start + a0);
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return `M${x0},${y0} A${RING.outer},${RING.outer} 0 ${large} 1 ${x1},${y1} L${x2},${y2} A${RING.inner},${RING.inner} 0 ${large} 0 ${x3},${y3} Z`;
}

/** Newest keys bright teal, oldest dark blue. */
function ageColour(age: number, maxAge: number): string {
  const t = maxAge > 0 ? Math.min(1, age / maxAge) : 0;
  return `hsl(${172 + 48 * t} ${70 - 25 * t}% ${46 - 20 * t}%)`;
}

const QueueRing = memo(function QueueRing({ queue }: { queue: QueueSnapshot }) {
  const segments = queue.segmentFill.length;
  let maxAge = 0;
  for (const a of queue.segmentAge) maxAge = Math.max(maxAge, a);
  const gap = segments > 48 ? 0.004 : 0.02;
  const step = (2 * Math.PI) / segments;
  const pointerAngle = -Math.PI / 2 + (queue.writeSegment + 0.5) * step;
  const [px, py] = polar(RING.outer + 7, pointerAngle);
  return (
    <g aria-hidden="true">
      {Array.from({ length: segments }, (_, i) => {
        const fill = queue.segmentFill[i];
        return (
          <path
            key={i}
            d={sector(i * step + gap, (i + 1) * step - gap)}
            fill={fill > 0 ? ageColour(queue.segmentAge[i], maxAge) : 'var(--ring-empty)'}
            fillOpacity={fill > 0 ? 0.35 + 0.65 * fill : 1}
          />
        );
      })}
      <circle cx={px} cy={py} r={4} className={styles['ring-pointer']} />
    </g>
  );
});

/**
 * MoCo as the paper's Figure 1, live: two encoders, the momentum update between them with the
 * current m, and the queue of keys as a ring that fills as keys are enqueued (coloured by age).
 */
export const MethodDiagram = memo(function MethodDiagram({ momentum, queue, last }: Props) {
  const m = momentum ?? NaN;
  const failure = momentum === 0;
  const capacity = queue?.capacity ?? 0;
  const filled = queue?.filled ?? 0;
  const fillPct = capacity ? (100 * filled) / capacity : 0;
  return (
    <figure className={`${styles.diagram} card`} aria-label="How MoCo works, with the values of the running training" data-narrow-first data-testid="method-diagram">
      <svg viewBox="0 0 940 218" role="img" aria-labelledby="diagram-title">
        <title id="diagram-title">
          {queue
            ? `MoCo: query encoder and momentum encoder (m = ${formatMomentum(m)}); queue of ${formatInt(filled)} of ${formatInt(capacity)} keys`
            : 'MoCo: query encoder and momentum encoder; the training worker is starting'}
        </title>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="var(--ink-soft)" />
          </marker>
          <marker id="arrow-m" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill={failure ? 'var(--bad)' : 'var(--accent)'} />
          </marker>
          <linearGradient id="age-scale" x1="0" x2="1" y1="0" y2="0">
            <stop offset="0" stopColor={ageColour(0, 1)} />
            <stop offset="1" stopColor={ageColour(1, 1)} />
          </linearGradient>
        </defs>

        {/* Input batch and its two augmentations */}
        <g className={`${styles.node} ${styles['node--data']}`}>
          <rect x={8} y={86} width={48} height={40} rx={6} />
          <text x={32} y={111} textAnchor="middle" className={styles.title}>
            x
          </text>
          <text x={32} y={142} textAnchor="middle" className={styles.small}>
            batch
          </text>
        </g>
        <path d="M56,98 C90,98 92,45 126,45" className={styles.edge} markerEnd="url(#arrow)" />
        <path d="M56,114 C90,114 92,165 126,165" className={styles.edge} markerEnd="url(#arrow)" />
        {/* Each label clear of its curve: above the upper one, below the lower one (they crossed their words). */}
        <text x={92} y={40} className={styles.small} textAnchor="middle">
          augment
        </text>
        <text x={92} y={181} className={styles.small} textAnchor="middle">
          augment
        </text>

        {/* Encoders */}
        <g className={`${styles.node} ${styles['node--query']}`}>
          <rect x={130} y={18} width={170} height={54} rx={8} />
          <text x={215} y={41} textAnchor="middle" className={styles.title}>
            encoder_q
          </text>
          <text x={215} y={59} textAnchor="middle" className={styles.small}>
            query encoder · trained by SGD
          </text>
        </g>
        <g className={`${styles.node} ${styles['node--key']}`}>
          <rect x={130} y={138} width={170} height={54} rx={8} />
          <text x={215} y={161} textAnchor="middle" className={styles.title}>
            encoder_k
          </text>
          <text x={215} y={179} textAnchor="middle" className={styles.small}>
            momentum encoder · no gradient
          </text>
        </g>

        {/* Momentum update */}
        <path d="M215,74 L215,134" className={`${styles.edge} ${styles['edge--momentum']}${failure ? ` ${styles['edge--bad']}` : ''}`} markerEnd="url(#arrow-m)" />
        <g className={failure ? `${styles.momentum} ${styles['momentum--bad']}` : styles.momentum}>
          <text x={226} y={94} className={styles.momentum__value} data-testid="diagram-momentum" data-value={momentum ?? ''}>
            m = {formatMomentum(m)}
          </text>
          <text x={226} y={110} className={styles.small}>
            <title>{glossaryLine('momentum')}</title>
            {failure ? 'θk = θq: the failure case' : 'θk ← m·θk + (1−m)·θq'}
          </text>
        </g>
        <text x={226} y={127} className={`${styles.small} ${styles.mono}`} data-testid="diagram-lag" data-value={last && Number.isFinite(last.keyLag) ? last.keyLag : ''}>
          <title>
            How far the key encoder trails the query encoder: ‖θk − θq‖ / ‖θq‖ after the last step (0 when m = 0), and the mean cosine between the two
            encoders&apos; embeddings of the same un-augmented images (1 when they are the same encoder).
          </title>
          lag {last ? formatNumber(last.keyLag, 2) : '–'} · key cos {last ? formatNumber(last.keyConsistency, 3) : '–'}
        </text>

        {/* Outputs */}
        <path d="M300,45 L326,45" className={styles.edge} markerEnd="url(#arrow)" />
        <circle cx={340} cy={45} r={12} className={`${styles.vec} ${styles['vec--q']}`} />
        <text x={340} y={49} textAnchor="middle" className={styles['vec-label']}>
          q
        </text>
        <path d="M300,165 L326,165" className={styles.edge} markerEnd="url(#arrow)" />
        <circle cx={340} cy={165} r={12} className={`${styles.vec} ${styles['vec--k']}`} />
        <text x={340} y={169} textAnchor="middle" className={styles['vec-label']}>
          k
        </text>

        {/* Loss */}
        <g className={`${styles.node} ${styles['node--loss']}`}>
          <rect x={420} y={16} width={150} height={58} rx={8} />
          <text x={495} y={39} textAnchor="middle" className={styles.title}>
            <title>{glossaryLine('infoNce')}</title>
            InfoNCE loss
          </text>
          <text x={495} y={60} textAnchor="middle" className={styles.value} data-testid="diagram-loss">
            {last ? formatNumber(last.loss, 4) : '–'}
          </text>
        </g>
        <path d="M352,45 L416,45" className={styles.edge} markerEnd="url(#arrow)" />
        <path d="M352,160 C420,150 460,120 470,78" className={`${styles.edge} ${styles['edge--positive']}`} markerEnd="url(#arrow)" />
        <text x={372} y={118} className={styles.small}>
          positive pair
        </text>
        <text x={372} y={132} className={`${styles.small} ${styles.mono} ${styles['edge-value--positive']}`}>
          <title>{glossaryLine('positive')}</title>
          q·k₊ = {last ? formatNumber(last.meanPositiveSimilarity, 2) : '–'}
        </text>

        {/* Negatives from the queue */}
        <path d="M690,58 C650,40 610,40 574,42" className={`${styles.edge} ${styles['edge--negative']}`} markerEnd="url(#arrow)" />
        <text x={630} y={24} className={styles.small} textAnchor="middle">
          K negatives
        </text>
        <text x={630} y={64} className={`${styles.small} ${styles.mono} ${styles['edge-value--negative']}`} textAnchor="middle">
          <title>{glossaryLine('negative')}</title>
          q·kᵢ = {last ? formatNumber(last.meanNegativeSimilarity, 2) : '–'}
        </text>

        {/* Enqueue */}
        <path d="M352,170 C460,205 600,205 688,160" className={`${styles.edge} ${styles['edge--enqueue']}`} markerEnd="url(#arrow)" />
        <text x={520} y={211} className={styles.small} textAnchor="middle">
          enqueue the newest keys, drop the oldest
        </text>

        {/* Queue ring */}
        <circle cx={RING.cx} cy={RING.cy} r={RING.inner - 2} className={styles['ring-hole']} />
        {queue && <QueueRing queue={queue} />}
        <text x={RING.cx} y={RING.cy - 14} textAnchor="middle" className={styles.small}>
          <title>{glossaryLine('queue')}</title>
          queue
        </text>
        <text x={RING.cx} y={RING.cy + 6} textAnchor="middle" className={styles['ring-count']} data-testid="queue-fill" data-value={filled}>
          {queue ? formatInt(filled) : '–'}
        </text>
        <text x={RING.cx} y={RING.cy + 22} textAnchor="middle" className={styles.small} data-testid="queue-capacity" data-value={capacity}>
          {queue ? `of ${formatInt(capacity)} · ${fillPct < 10 && fillPct > 0 ? fillPct.toFixed(1) : Math.round(fillPct)}%` : 'starting…'}
        </text>

        {/* Legend */}
        <g >
          <text x={866} y={72} className={styles.small}>
            <title>{glossaryLine('keyAge')}</title>
            key age
          </text>
          <rect x={866} y={80} width={66} height={8} rx={2} fill="url(#age-scale)" />
          <text x={866} y={100} className={styles.small}>
            new
          </text>
          <text x={932} y={100} className={styles.small} textAnchor="end">
            old
          </text>
          <text x={866} y={124} className={styles.small}>
            mean age
          </text>
          <text x={866} y={140} className={styles.mono}>
            {last ? formatNumber(last.meanKeyAge, 3) : '–'} steps
          </text>
        </g>
      </svg>
    </figure>
  );
});
