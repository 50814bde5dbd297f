import { memo, useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import type { EmbeddingView } from '../../worker/evaluationTypes';
import { ARROW_DIRECTIONS, nearestInDirection, nearestTo, typedPoint } from '../pointNavigation';
import { classColour, Thumbnail } from './Thumbnail';
import styles from './EmbeddingScatter.module.css';

const HEIGHT = 300;
const PAD = 10;
const RADIUS = 4;
/** A click or the pointer picks the nearest point within this many CSS pixels. */
const HIT_RADIUS = 10;

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

/** Image `i` of RGB pixels as RGBA bytes, for a Thumbnail. */
function rgbaOf(images: Uint8Array, i: number): Uint8ClampedArray<ArrayBuffer> {
  const rgb = images.subarray(i * 3072, (i + 1) * 3072);
  const rgba = new Uint8ClampedArray(4096);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgba[q] = rgb[p];
    rgba[q + 1] = rgb[p + 1];
    rgba[q + 2] = rgb[p + 2];
    rgba[q + 3] = 255;
  }
  return rgba;
}

/**
 * Held-out images as points on the first two principal axes of their features, coloured by class:
 * a canvas, since thousands of SVG nodes would make every redraw slow. Hovering a point shows its
 * image and class; clicking it asks for its nearest training images. From the keyboard the plot is
 * one tab stop: the arrow keys move to the nearest point in their direction (Home and End to the
 * first and last by number), showing the same card and saying the point and its class to screen
 * readers, and Enter asks for its neighbours; a point can also be chosen by its number.
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
  /** The point the arrow keys are on while the plot has the focus; null otherwise. */
  const [active, setActive] = useState<number | null>(null);

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
    if (active !== null && active < view.labels.length && active !== selected) {
      // The keyboard's point: a dashed ring, apart from the chosen point's solid one.
      context.beginPath();
      context.arc(positions.x[active], positions.y[active], RADIUS + 4, 0, 2 * Math.PI);
      context.strokeStyle = getComputedStyle(element).color;
      context.lineWidth = 2;
      context.setLineDash([3, 2]);
      context.stroke();
      context.setLineDash([]);
    }
  }, [positions, view, selected, active]);

  const pointAt = useCallback(
    (e: React.MouseEvent<HTMLCanvasElement>): number => {
      if (!positions) return -1;
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
      return best;
    },
    [positions],
  );
  const onClick = useCallback(
    (e: React.MouseEvent<HTMLCanvasElement>) => {
      const i = pointAt(e);
      if (i >= 0) onSelect(i);
    },
    [pointAt, onSelect],
  );
  const [hovered, setHovered] = useState<number | null>(null);
  const onMove = useCallback((e: React.MouseEvent<HTMLCanvasElement>) => {
    const i = pointAt(e);
    setHovered(i >= 0 ? i : null);
  }, [pointAt]);
  // The keyboard's way in: a point by its number (arrow keys step through them), Enter or the button shows its neighbours.
  const uid = useId();
  const [typedText, setTypedText] = useState('0');
  const count = view.labels.length;
  const typed = typedPoint(typedText, count);
  const showTyped = () => {
    if ('index' in typed) onSelect(typed.index);
  };
  const onFocus = useCallback(() => {
    if (!positions) return;
    // From the chosen point, or else from the middle of the plot.
    setActive(selected !== null && selected < count ? selected : nearestTo(positions.x, positions.y, positions.width / 2, HEIGHT / 2));
  }, [positions, selected, count]);
  const onKeyDown = useCallback(
    (e: React.KeyboardEvent<HTMLCanvasElement>) => {
      if (!positions || active === null) return;
      const direction = ARROW_DIRECTIONS[e.key];
      let next = -1;
      if (direction) next = nearestInDirection(positions.x, positions.y, active, direction);
      else if (e.key === 'Home') next = 0;
      else if (e.key === 'End') next = count - 1;
      else if (e.key === 'Enter' || e.key === ' ') onSelect(active);
      else return;
      // The page does not scroll under the plot's keys.
      e.preventDefault();
      if (next >= 0) setActive(next);
    },
    [positions, active, count, onSelect],
  );
  const chosen = selected !== null && selected < count ? selected : null;
  const spoken = active !== null && active < count ? active : chosen;
  const shown = hovered ?? spoken;
  const thumb = useMemo(() => (shown !== null ? rgbaOf(view.images, shown) : null), [view, shown]);

  const [e1, e2] = view.explainedVariance;
  return (
    <figure className={styles.scatter}>
      <div className={styles.scatter__plot}>
      <canvas
        ref={canvas}
        className={styles.scatter__canvas}
        style={{ height: HEIGHT }}
        onClick={onClick}
        onMouseMove={onMove}
        onMouseLeave={() => setHovered(null)}
        onFocus={onFocus}
        onBlur={() => setActive(null)}
        onKeyDown={onKeyDown}
        // A slider over the points, as each chart is one over the steps: a screen reader says the
        // value text (the point and its class) as the arrow keys move.
        tabIndex={0}
        role="slider"
        aria-roledescription="scatter plot"
        aria-label={`${count} held-out images on the first two principal axes of their features, coloured by class. Arrow keys move to the nearest point in that direction, Enter shows its nearest training images`}
        aria-valuemin={0}
        aria-valuemax={count - 1}
        aria-valuenow={spoken ?? 0}
        aria-valuetext={spoken === null ? 'no point chosen' : `held-out image ${spoken} of ${count}: ${view.classNames[view.labels[spoken]]}`}
        data-testid="embedding-scatter"
        data-points={count}
        data-active={active ?? undefined}
      />
        {shown !== null && thumb && positions && (
          <div
            className={styles.scatter__tip}
            style={{ left: Math.min(positions.x[shown] + 12, positions.width - 120), top: Math.max(0, positions.y[shown] - 40) }}
            data-testid="embedding-hover"
            data-index={shown}
            data-x={positions.x[shown].toFixed(1)}
            data-y={positions.y[shown].toFixed(1)}
          >
            <Thumbnail rgba={thumb} label={`held-out image ${shown}: ${view.classNames[view.labels[shown]]}`} className={styles.scatter__thumb} />
            <span>
              #{shown}
              <br />
              <strong>{view.classNames[view.labels[shown]]}</strong>
            </span>
          </div>
        )}
      </div>
      <div className={styles.scatter__keys}>
        <label htmlFor={`${uid}-point`}>held-out image #</label>
        <input
          id={`${uid}-point`}
          type="number"
          min={0}
          max={count - 1}
          step={1}
          value={typedText}
          className={styles.scatter__number}
          data-testid="embedding-point"
          aria-invalid={'error' in typed}
          aria-describedby={'error' in typed ? `${uid}-point-error` : undefined}
          onChange={(e) => {
            const text = e.currentTarget.value;
            setTypedText(text);
            const next = typedPoint(text, count);
            setHovered('index' in next ? next.index : null);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') showTyped();
          }}
          onBlur={() => setHovered(null)}
        />
        <button type="button" className="btn" onClick={showTyped} disabled={'error' in typed} data-testid="embedding-select">
          Show its neighbours
        </button>
        {/* Always there, empty without an error: a live region added with its text in it is often not read. */}
        <span id={`${uid}-point-error`} className={styles.scatter__error} role="status" data-testid="embedding-point-error">
          {'error' in typed ? typed.error : ''}
        </span>
      </div>
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
