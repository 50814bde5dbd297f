import { useEffect, useRef } from 'react';
import styles from './Thumbnail.module.css';

/** A small RGBA image (ImageData's layout), drawn at its own resolution and scaled up by CSS without smoothing. */
export function Thumbnail({ rgba, size = 32, label, className, testId }: { rgba: Uint8ClampedArray<ArrayBuffer>; size?: number; label: string; className?: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = ref.current?.getContext('2d');
    context?.putImageData(new ImageData(rgba, size, size), 0, 0);
  }, [rgba, size]);
  return <canvas ref={ref} width={size} height={size} className={`${styles.thumb}${className ? ` ${className}` : ''}`} role="img" aria-label={label} title={label} data-testid={testId} />;
}

/** Distinct colours for up to ten classes (Tableau 10), then hues spread by the golden angle. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function classColour(label: number, classes: number): string {
  if (classes <= PALETTE.length) return PALETTE[label];
  return `hsl(${(label * 137.508) % 360} 65% 50%)`;
}
