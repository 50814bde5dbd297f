/**
 * Colour science for tests of what the page draws: CIELAB from sRGB hex (D65), the CIEDE2000 colour
 * difference (Sharma, Wu and Dalal 2005), and WCAG 2's contrast ratio.
 */

export type Lab = readonly [L: number, a: number, b: number];

function channels(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [0, 2, 4].map((i) => parseInt(m[1].slice(i, i + 2), 16) / 255) as [number, number, number];
}

const linear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

/** WCAG 2 relative luminance. */
export function luminance(hex: string): number {
  const [r, g, b] = channels(hex).map(linear);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2 contrast ratio, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** CIELAB (D65 white) of an sRGB colour. */
export function lab(hex: string): Lab {
  const [r, g, b] = channels(hex).map(linear);
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

const RAD = Math.PI / 180;

/** CIEDE2000 ΔE between two CIELAB colours (kL = kC = kH = 1): about 1 is just noticeable, 20 a different colour. */
export function deltaE2000([L1, a1, b1]: Lab, [L2, a2, b2]: Lab): number {
  const C1 = Math.hypot(a1, b1);
  const C2 = Math.hypot(a2, b2);
  const Cmean7 = ((C1 + C2) / 2) ** 7;
  const G = 0.5 * (1 - Math.sqrt(Cmean7 / (Cmean7 + 25 ** 7)));
  const ap1 = (1 + G) * a1;
  const ap2 = (1 + G) * a2;
  const Cp1 = Math.hypot(ap1, b1);
  const Cp2 = Math.hypot(ap2, b2);
  const hue = (b: number, a: number) => (a === 0 && b === 0 ? 0 : (Math.atan2(b, a) / RAD + 360) % 360);
  const hp1 = hue(b1, ap1);
  const hp2 = hue(b2, ap2);
  const dL = L2 - L1;
  const dC = Cp2 - Cp1;
  let dh = 0;
  if (Cp1 * Cp2 !== 0) {
    dh = hp2 - hp1;
    if (dh > 180) dh -= 360;
    else if (dh < -180) dh += 360;
  }
  const dH = 2 * Math.sqrt(Cp1 * Cp2) * Math.sin((dh * RAD) / 2);
  const Lmean = (L1 + L2) / 2;
  const Cpmean = (Cp1 + Cp2) / 2;
  let hmean = hp1 + hp2;
  if (Cp1 * Cp2 !== 0) {
    if (Math.abs(hp1 - hp2) > 180) hmean += hmean < 360 ? 360 : -360;
    hmean /= 2;
  }
  const T = 1 - 0.17 * Math.cos((hmean - 30) * RAD) + 0.24 * Math.cos(2 * hmean * RAD) + 0.32 * Math.cos((3 * hmean + 6) * RAD) - 0.2 * Math.cos((4 * hmean - 63) * RAD);
  const dTheta = 30 * Math.exp(-(((hmean - 275) / 25) ** 2));
  const Cpmean7 = Cpmean ** 7;
  const RC = 2 * Math.sqrt(Cpmean7 / (Cpmean7 + 25 ** 7));
  const SL = 1 + (0.015 * (Lmean - 50) ** 2) / Math.sqrt(20 + (Lmean - 50) ** 2);
  const SC = 1 + 0.045 * Cpmean;
  const SH = 1 + 0.015 * Cpmean * T;
  const RT = -Math.sin(2 * dTheta * RAD) * RC;
  return Math.sqrt((dL / SL) ** 2 + (dC / SC) ** 2 + (dH / SH) ** 2 + RT * (dC / SC) * (dH / SH));
}

/** CIEDE2000 ΔE between two sRGB colours. */
export function colourDistance(a: string, b: string): number {
  return deltaE2000(lab(a), lab(b));
}

/**
 * The page's custom properties (`--name: #rrggbb`) in its light scheme and in its dark one (the
 * light values overridden by the `prefers-color-scheme: dark` block), from the stylesheet's text.
 */
export function schemeColours(css: string): { light: Record<string, string>; dark: Record<string, string> } {
  const read = (block: string) => Object.fromEntries([...block.matchAll(/(--[\w-]+)\s*:\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1], m[2].toLowerCase()]));
  const darkAt = css.indexOf('@media (prefers-color-scheme: dark)');
  if (darkAt < 0) throw new Error('the stylesheet has no dark scheme');
  const lightRoot = /:root\s*\{([^}]*)\}/.exec(css.slice(0, darkAt));
  const darkRoot = /:root\s*\{([^}]*)\}/.exec(css.slice(darkAt));
  if (!lightRoot || !darkRoot) throw new Error('the stylesheet has no :root block for each scheme');
  const light = read(lightRoot[1]);
  return { light, dark: { ...light, ...read(darkRoot[1]) } };
}
