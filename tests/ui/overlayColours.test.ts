import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CURRENT_RUN_COLOURS } from '../../src/ui/components/Charts';
import { CURRENT_COLOUR as KNN_COLOUR } from '../../src/ui/components/KnnChart';
import { OVERLAY_COLOURS } from '../../src/ui/series';
import { colourDistance, contrastRatio, deltaE2000, schemeColours } from '../support/colour';

const SCHEMES = schemeColours(readFileSync(new URL('../../src/ui/global.css', import.meta.url), 'utf8'));

/** A colour as a scheme draws it: a `var(--name)` resolved there, a hex colour as it is. */
function resolve(colour: string, scheme: Record<string, string>): string {
  const v = /^var\((--[\w-]+)\)$/.exec(colour);
  if (!v) return colour;
  const hex = scheme[v[1]];
  if (!hex) throw new Error(`${v[1]} is not defined in global.css`);
  return hex;
}

/** Every chart that draws overlaid runs, with the current run's own colours there. */
const CHARTS = [...CURRENT_RUN_COLOURS, { chart: 'kNN accuracy', colours: [KNN_COLOUR] }];

describe('CIEDE2000, as the colour checks measure', () => {
  it("gives Sharma, Wu and Dalal's (2005) test values", () => {
    expect(deltaE2000([50, 2.6772, -79.7751], [50, 0, -82.7485])).toBeCloseTo(2.0425, 4);
    expect(deltaE2000([50, 0, 0], [50, -1, 2])).toBeCloseTo(2.3669, 4);
    expect(deltaE2000([50, 2.5, 0], [73, 25, -18])).toBeCloseTo(27.1492, 4);
    expect(deltaE2000([60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387])).toBeCloseTo(1.2644, 4);
    expect(deltaE2000([2.0776, 0.0795, -1.135], [0.9033, -0.0636, -0.5514])).toBeCloseTo(0.9082, 4);
  });
});

describe('overlaid runs in colours of their own', () => {
  it('the charts that take overlays are the loss (and loss ÷ chance), accuracy, similarity and kNN charts', () => {
    expect(CHARTS.map((c) => c.chart)).toEqual(['InfoNCE loss', 'Contrastive accuracy', 'Positive vs negative similarity', 'InfoNCE loss ÷ chance', 'kNN accuracy']);
  });

  it("no overlay colour can be taken for one of the current run's own lines on the same chart, in the light or the dark scheme", () => {
    const close: string[] = [];
    for (const [name, scheme] of Object.entries(SCHEMES))
      for (const { chart, colours } of CHARTS)
        for (const own of colours.map((c) => resolve(c, scheme)))
          for (const overlay of OVERLAY_COLOURS) {
            const d = colourDistance(overlay, own);
            if (d < 20) close.push(`${name} ${chart}: overlay ${overlay} vs this run's ${own}, ΔE ${d.toFixed(1)}`);
          }
    expect(close).toEqual([]);
  });

  it('the overlays are told apart from each other', () => {
    expect(OVERLAY_COLOURS.length).toBeGreaterThanOrEqual(8);
    const close: string[] = [];
    for (const [i, a] of OVERLAY_COLOURS.entries())
      for (const b of OVERLAY_COLOURS.slice(i + 1)) if (colourDistance(a, b) < 18) close.push(`${a} vs ${b}, ΔE ${colourDistance(a, b).toFixed(1)}`);
    expect(close).toEqual([]);
  });

  it('every overlay line reads on the light and the dark card (WCAG 3:1 for graphics)', () => {
    for (const scheme of Object.values(SCHEMES))
      for (const overlay of OVERLAY_COLOURS) expect(contrastRatio(overlay, scheme['--card']), `${overlay} on ${scheme['--card']}`).toBeGreaterThanOrEqual(3);
  });
});
