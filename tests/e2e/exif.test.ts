/**
 * The app and the headless trainer read a photo the same way: Chromium's createImageBitmap (the
 * app's decoder) and the Node decoder (`src/cli/decodeImage.ts`) on the same JPEG bytes, with EXIF
 * orientations 1, 3, 6 and 8, give the same picture size and the same colours where it matters.
 */
import jpeg from 'jpeg-js';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { decodeImageBytes } from '../../src/cli/decodeImage';
import { jpegOrientation, orientRGBA, type Orientation } from '../../src/data/exif';
import { exifJpeg, quadrantPicture } from '../support/exifJpeg';
import { useChromium } from './harness';

/** Chromium's decode: the shown size, and the RGB of the centre of each quadrant of the shown picture. */
async function browserDecode(page: Page, bytes: Uint8Array): Promise<{ width: number; height: number; quadrants: number[][] }> {
  return page.evaluate(async (data) => {
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(data)], { type: 'image/jpeg' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d')!;
    context.drawImage(bitmap, 0, 0);
    const { width, height } = bitmap;
    const quadrants = [
      [width / 4, height / 4],
      [(3 * width) / 4, height / 4],
      [width / 4, (3 * height) / 4],
      [(3 * width) / 4, (3 * height) / 4],
    ].map(([x, y]) => Array.from(context.getImageData(Math.floor(x), Math.floor(y), 1, 1).data.slice(0, 3)));
    return { width, height, quadrants };
  }, Array.from(bytes));
}

describe('EXIF orientation: Chromium and the headless trainer agree', () => {
  const chromium = useChromium({ webgpu: false });

  const stored = jpeg.encode(quadrantPicture(64, 32), 95).data;
  for (const orientation of [1, 3, 6, 8] as Orientation[]) {
    it(`orientation ${orientation}`, async () => {
      const bytes = exifJpeg(stored, orientation, orientation % 2 === 0 ? 'MM' : 'II');
      const shown = await browserDecode(chromium.page, bytes);
      // The Node side: the same decode and turn as the trainer, before its crop and resize.
      const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      const turned = orientRGBA(decoded.data, decoded.width, decoded.height, jpegOrientation(bytes));
      expect([turned.width, turned.height]).toEqual([shown.width, shown.height]);
      const node = [
        [turned.width / 4, turned.height / 4],
        [(3 * turned.width) / 4, turned.height / 4],
        [turned.width / 4, (3 * turned.height) / 4],
        [(3 * turned.width) / 4, (3 * turned.height) / 4],
      ].map(([x, y]) => Array.from(turned.data.slice(4 * (Math.floor(y) * turned.width + Math.floor(x)), 4 * (Math.floor(y) * turned.width + Math.floor(x)) + 3)));
      node.forEach((rgb, q) => rgb.forEach((v, c) => expect(Math.abs(v - shown.quadrants[q][c]), `quadrant ${q} channel ${c}`).toBeLessThan(24)));
      // And the 32×32 the trainer keeps: its quadrants are the shown picture's centre square's.
      const kept = await decodeImageBytes({ path: 'photo.jpg', data: bytes });
      expect(kept.length).toBe(32 * 32 * 3);
    });
  }
});
