/**
 * The headless trainer reads a JPEG's EXIF orientation as browsers do (createImageBitmap turns the
 * picture the way the camera was held): real JPEG bytes, encoded here, with an APP1 Exif segment
 * carrying orientation 1 to 8.
 */
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImageBytes } from '../../src/cli/decodeImage';
import { jpegOrientation, type Orientation } from '../../src/data/exif';
import { exifJpeg, quadrantPicture, QUADRANT_COLOURS, type Quadrant } from '../support/exifJpeg';

/** The colour at the centre of each 16×16 quadrant of a 32×32 RGB picture. */
function quadrantsOf(rgb: Uint8Array): [number, number, number][] {
  return [
    [8, 8],
    [24, 8],
    [8, 24],
    [24, 24],
  ].map(([x, y]) => {
    const i = 3 * (y * 32 + x);
    return [rgb[i], rgb[i + 1], rgb[i + 2]];
  });
}

/**
 * The stored picture is 64×32: red top-left, green top-right, blue bottom-left, white bottom-right.
 * As shown (top-left, top-right, bottom-left, bottom-right of the centre square), per the EXIF
 * specification's meaning of each orientation.
 */
const SHOWN: Record<Orientation, Quadrant[]> = {
  1: ['red', 'green', 'blue', 'white'],
  2: ['green', 'red', 'white', 'blue'],
  3: ['white', 'blue', 'green', 'red'],
  4: ['blue', 'white', 'red', 'green'],
  5: ['red', 'blue', 'green', 'white'],
  6: ['blue', 'red', 'white', 'green'],
  7: ['white', 'green', 'blue', 'red'],
  8: ['green', 'white', 'red', 'blue'],
};

describe('EXIF orientation in the headless trainer', () => {
  const stored = jpeg.encode(quadrantPicture(64, 32), 95).data;

  for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8] as Orientation[]) {
    for (const order of ['II', 'MM'] as const) {
      it(`orientation ${orientation} (${order === 'II' ? 'little' : 'big'}-endian EXIF): the picture is turned as a browser shows it`, async () => {
        const bytes = exifJpeg(stored, orientation, order);
        expect(jpegOrientation(bytes)).toBe(orientation);
        const rgb = await decodeImageBytes({ path: `photo-${orientation}.jpg`, data: bytes });
        const shown = quadrantsOf(rgb);
        SHOWN[orientation].forEach((name, q) => {
          QUADRANT_COLOURS[name].forEach((v, c) => expect(Math.abs(shown[q][c] - v), `${name} quadrant ${q}, channel ${c}`).toBeLessThan(24));
        });
      });
    }
  }

  it('a JPEG without EXIF, with a damaged EXIF block or an orientation out of range is read as stored', async () => {
    const plain = await decodeImageBytes({ path: 'plain.jpg', data: stored });
    expect(jpegOrientation(stored)).toBe(1);
    const bad = exifJpeg(stored, 6, 'II');
    // The byte-order mark garbled: no orientation can be read.
    bad.set([0x58, 0x58], bad.indexOf(0x49, 10));
    expect(jpegOrientation(bad)).toBe(1);
    expect(await decodeImageBytes({ path: 'bad.jpg', data: bad })).toEqual(plain);
    expect(jpegOrientation(exifJpeg(stored, 9 as Orientation, 'MM'))).toBe(1);
    expect(jpegOrientation(stored.subarray(0, 10))).toBe(1);
  });
});
