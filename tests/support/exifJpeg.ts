/** JPEG bytes with an EXIF orientation, built in the tests (jpeg-js writes no EXIF). */
import type { Orientation } from '../../src/data/exif';

export type Quadrant = 'red' | 'green' | 'blue' | 'white';

export const QUADRANT_COLOURS: Record<Quadrant, [number, number, number]> = {
  red: [220, 30, 30],
  green: [30, 200, 40],
  blue: [30, 40, 220],
  white: [250, 250, 250],
};

/** A `width × height` RGBA picture: red top-left, green top-right, blue bottom-left, white bottom-right (for jpeg-js's encoder). */
export function quadrantPicture(width: number, height: number): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const name: Quadrant = y < height / 2 ? (x < width / 2 ? 'red' : 'green') : x < width / 2 ? 'blue' : 'white';
      data.set([...QUADRANT_COLOURS[name], 255], 4 * (y * width + x));
    }
  }
  return { data, width, height };
}

/**
 * `jpegBytes` with an APP1 Exif segment right after the start-of-image marker: a TIFF header in
 * the byte order given and IFD0 holding one entry, the orientation (tag 0x0112, SHORT).
 */
export function exifJpeg(jpegBytes: Uint8Array, orientation: Orientation, order: 'II' | 'MM'): Uint8Array {
  const little = order === 'II';
  const tiff = new DataView(new ArrayBuffer(8 + 2 + 12 + 4));
  tiff.setUint16(0, little ? 0x4949 : 0x4d4d);
  tiff.setUint16(2, 42, little);
  tiff.setUint32(4, 8, little);
  tiff.setUint16(8, 1, little);
  tiff.setUint16(10, 0x0112, little);
  tiff.setUint16(12, 3, little);
  tiff.setUint32(14, 1, little);
  tiff.setUint16(18, orientation, little);
  tiff.setUint32(22, 0, little);
  const payload = new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...new Uint8Array(tiff.buffer)]);
  const segment = new Uint8Array([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload]);
  const out = new Uint8Array(jpegBytes.length + segment.length);
  out.set(jpegBytes.subarray(0, 2), 0);
  out.set(segment, 2);
  out.set(jpegBytes.subarray(2), 2 + segment.length);
  return out;
}
