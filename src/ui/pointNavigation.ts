/**
 * The held-out image a number typed in the embedding's box names, or what to type instead (the
 * valid range): a number out of range is said to be so, never quietly moved to the nearest end.
 */
export function typedPoint(text: string, count: number): { index: number } | { error: string } {
  const range = `a whole number from 0 to ${count - 1}`;
  const trimmed = text.trim();
  if (trimmed === '') return { error: `type the number of a held-out image: ${range}` };
  const n = Number(trimmed);
  if (!Number.isInteger(n) || n < 0 || n >= count) return { error: `there is no held-out image ${trimmed}: type ${range}` };
  return { index: n };
}

/** Where an arrow key moves on a scatter plot (screen coordinates: y grows downwards). */
export type Direction = 'left' | 'right' | 'up' | 'down';

const UNIT: Record<Direction, [number, number]> = { right: [1, 0], left: [-1, 0], down: [0, 1], up: [0, -1] };

/** The arrow keys' directions. */
export const ARROW_DIRECTIONS: Readonly<Record<string, Direction>> = { ArrowRight: 'right', ArrowLeft: 'left', ArrowDown: 'down', ArrowUp: 'up' };

/**
 * The point an arrow key moves to from point `from`: the nearest one ahead in that direction, a
 * step sideways counting twice a step ahead (as browsers' spatial navigation weighs them), so
 * that → keeps to the row it is on. Points drawn on the same spot follow each other by number
 * (→ and ↓ to the next, ← and ↑ to the previous), so that every point can be reached.
 * −1 when nothing lies that way.
 */
export function nearestInDirection(x: ArrayLike<number>, y: ArrayLike<number>, from: number, direction: Direction): number {
  const [ux, uy] = UNIT[direction];
  const forward = ux + uy > 0;
  let best = -1;
  let bestScore = Infinity;
  for (let i = 0; i < x.length; i++) {
    if (i === from) continue;
    const dx = x[i] - x[from];
    const dy = y[i] - y[from];
    const ahead = dx * ux + dy * uy;
    const aside = Math.abs(dx * uy - dy * ux);
    const same = ahead === 0 && aside === 0;
    if (same ? forward !== (i > from) : ahead <= 0) continue;
    // On the same spot, the next number in that order comes first.
    const score = same ? Math.abs(i - from) * 1e-9 : ahead + 2 * aside;
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/** The point nearest to (px, py), where the keyboard starts when nothing is chosen yet (−1 for no points). */
export function nearestTo(x: ArrayLike<number>, y: ArrayLike<number>, px: number, py: number): number {
  let best = -1;
  let bestDistance = Infinity;
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] - px) ** 2 + (y[i] - py) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}
