/**
 * The charts' raw lines on a classroom projector: drawn faint under the smoothed line, they must
 * still show against the card in both schemes, and stay apart from the smoothed line.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/helpers';

const CSS = readFileSync(`${REPO_ROOT}/src/ui/global.css`, 'utf8');
/** The opacity the charts draw raw lines at (the raw series of Charts.tsx). */
const RAW_OPACITY = 0.6;

/** The variables of the light scheme (the first block) and of the dark one (inside its media query). */
function variables(scheme: 'light' | 'dark'): Map<string, string> {
  const darkAt = CSS.indexOf('@media (prefers-color-scheme: dark)');
  const block = scheme === 'light' ? CSS.slice(0, darkAt) : CSS.slice(darkAt);
  const vars = new Map<string, string>();
  for (const m of block.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)) if (!vars.has(m[1])) vars.set(m[1], m[2]);
  return vars;
}

type Rgb = [number, number, number];
const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
const over = (fg: Rgb, bg: Rgb, alpha: number): Rgb => fg.map((c, i) => alpha * c + (1 - alpha) * bg[i]) as Rgb;
function luminance(c: Rgb): number {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('the raw line of the loss and accuracy charts', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it(`shows against the card in the ${scheme} scheme (2:1 or more, as drawn faint) and is told apart from the smoothed line`, () => {
      const v = variables(scheme);
      const card = rgb(v.get('--card')!);
      const raw = over(rgb(v.get('--chart-raw')!), card, RAW_OPACITY);
      expect(contrast(raw, card)).toBeGreaterThanOrEqual(2);
      expect(contrast(raw, rgb(v.get('--chart-smooth')!))).toBeGreaterThanOrEqual(2);
    });
  }
});
