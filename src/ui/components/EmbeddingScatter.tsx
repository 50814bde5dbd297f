import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { EmbeddingView } from '../../worker/evaluationTypes';
import { classColour } from './Thumbnail';
import styles from './EmbeddingScatter.module.css';

const HEIGHT = 300;
const PAD = 10;
const RADIUS = 2.5;
/** A click selects the nearest point within this many CSS pixels. */
const HIT_RADIUS = 8;

interface Layout {
  width: number;
  /** Point i at (x[i], y[i]) in CSS pixels. */
  x: Float32Array;
  y: Float32Array;
}

/** One scale for both axes, so that distances on screen are distances between the projected features. */
function layout(view: EmbeddingView, width: number): Layout {
  const n = view.labels.length;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const px = view.points[2 * i];
    const py = view.points[2 * i + 1];
    if (px < x0) x0 = px;
    if (px > x1) x1 = px;
    if (py < y0) y0 = py;
    if (py > y1) y1 = py;
  }
  const scale = Math.min((width - 2 * PAD) / (x1 - x0 || 1), (HEIGHT - 2 * PAD) / (y1 - y0 || 1));
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = width / 2 + (view.points[2 * i] - cx) * scale;
    // Up is positive, as on paper.
    y[i] = HEIGHT / 2 - (view.points[2 * i + 1] - cy) * scale;
  }
  return { width, x, y };
}

/**
 * Held-out images as points on the first two principal axes of their features, coloured by class:
 * a canvas, since thousands of SVG nodes would make every redraw slow. Clicking a point asks for its
 * nearest training images.
 */
export const EmbeddingScatter = memo(function EmbeddingScatter({ view, selected, onSelect }: { view: EmbeddingView; selected: number | null; onSelect: (index: number) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);
  const positions = useMemo(() => (width > 0 ? layout(view, width) : null), [view, width]);

  useEffect(() => {
    const element = canvas.current;
    const context = element?.getContext('2d');
    if (!element || !context || !positions) return;
    const dpr = window.devicePixelRatio || 1;
    element.width = Math.round(positions.width * dpr);
    element.height = Math.round(HEIGHT * dpr);
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
    context.clearRect(0, 0, positions.width, HEIGHT);
    const classes = view.classNames.length;
    // One path per class: a few fills instead of one per point.
    for (let c = 0; c < classes; c++) {
      context.beginPath();
      for (let i = 0; i < view.labels.length; i++) {
        if (view.labels[i] !== c) continue;
        context.moveTo(positions.x[i] + RADIUS, positions.y[i]);
        context.arc(positions.x[i], positions.y[i], RADIUS, 0, 2 * Math.PI);
      }
      context.fillStyle = classColour(c, classes);
      context.globalAlpha = 0.8;
      context.fill();
    }
    context.globalAlpha = 1;
    if (selected !== null && selected < view.labels.length) {
      context.beginPath();
      context.arc(positions.x[selected], positions.y[selected], RADIUS + 4, 0, 2 * Math.PI);
      // The page's ink (its CSS colour), so the ring shows on the light and the dark scheme.
      context.strokeStyle = getComputedStyle(element).color;
      context.lineWidth = 2;
      context.stroke();
    }
  }, [positions, view, selected]);

  const onClick = useCallback(
    (e: React.MouseEvent<HTMLCanvasElement>) => {
      if (!positions) return;
      const box = e.currentTarget.getBoundingClientRect();
      const mx = e.clientX - box.left;
      const my = e.clientY - box.top;
      let best = -1;
      let bestDistance = HIT_RADIUS * HIT_RADIUS;
      for (let i = 0; i < positions.x.length; i++) {
        const d = (positions.x[i] - mx) ** 2 + (positions.y[i] - my) ** 2;
        if (d <= bestDistance) {
          bestDistance = d;
          best = i;
        }
      }
      if (best >= 0) onSelect(best);
    },
    [positions, onSelect],
  );

  const [e1, e2] = view.explainedVariance;
  return (
    <figure className={styles.scatter}>
      <canvas
        ref={canvas}
        className={styles.scatter__canvas}
        style={{ height: HEIGHT }}
        onClick={onClick}
        role="img"
        aria-label={`${view.labels.length} held-out images on the first two principal axes of their features, coloured by class; click a point for its nearest training images`}
        data-testid="embedding-scatter"
        data-points={view.labels.length}
      />
      <figcaption className="hint">
        PC1 {(100 * e1).toFixed(1)}% and PC2 {(100 * e2).toFixed(1)}% of the variance of the {view.featureDim}-dimensional features · step {view.step}
      </figcaption>
      <ul className="legend-list" aria-label="Classes">
        {view.classNames.map((name, c) => (
          <li key={name}>
            <span className={styles.dot} style={{ background: classColour(c, view.classNames.length) }} />
            {name}
          </li>
        ))}
      </ul>
    </figure>
  );
});
