/**
 * A JPEG's EXIF orientation, applied as browsers apply it: `createImageBitmap` (the app's decoder)
 * shows a photo the way the camera was held, so the headless trainer's decoder must turn the
 * pixels the same way for the two to read the same data. Pure byte parsing, no DOM.
 */

/** EXIF orientation: 1 as stored, 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90° anticlockwise. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;

/**
 * The orientation tag (0x0112) of the first APP1 "Exif" segment's IFD0, before the scan data; 1
 * when there is none or it cannot be read (a damaged EXIF block never stops an image from loading).
 */
export function jpegOrientation(bytes: Uint8Array): Orientation {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return 1;
    const marker = bytes[at + 1];
    // Fill bytes before a marker.
    if (marker === 0xff) {
      at++;
      continue;
    }
    // Markers without a length (TEM, RSTn); start of scan or end of image: no EXIF past here.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return 1;
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2) return 1;
    const start = at + 4;
    const end = Math.min(bytes.length, at + 2 + length);
    if (marker === 0xe1 && end - start >= 6 && isExifHeader(bytes, start)) return tiffOrientation(bytes.subarray(start + 6, end));
    at += 2 + length;
  }
  return 1;
}

function isExifHeader(bytes: Uint8Array, at: number): boolean {
  // "Exif\0\0"
  return bytes[at] === 0x45 && bytes[at + 1] === 0x78 && bytes[at + 2] === 0x69 && bytes[at + 3] === 0x66 && bytes[at + 4] === 0 && bytes[at + 5] === 0;
}

/** The orientation in a TIFF structure's first IFD (EXIF's byte order: "II" little-endian, "MM" big-endian). */
function tiffOrientation(tiff: Uint8Array): Orientation {
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const order = view.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const little = order === 0x4949;
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + 12 * i;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    // A SHORT (type 3), its value in the first two bytes of the value field.
    if (view.getUint16(entry + 2, little) !== 3) return 1;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/**
 * RGBA pixels (`width × height`, row-major) as shown for `orientation`: a new buffer, with width
 * and height swapped for 5–8. Orientation 1 returns the input as it is.
 */
export function orientRGBA(rgba: Uint8Array, width: number, height: number, orientation: Orientation): { data: Uint8Array; width: number; height: number } {
  if (orientation === 1) return { data: rgba, width, height };
  const swap = orientation >= 5;
  const outWidth = swap ? height : width;
  const outHeight = swap ? width : height;
  const out = new Uint8Array(outWidth * outHeight * 4);
  const pixels32 = rgba.byteOffset % 4 === 0 ? new Uint32Array(rgba.buffer, rgba.byteOffset, width * height) : new Uint32Array(rgba.slice(0, width * height * 4).buffer);
  const out32 = new Uint32Array(out.buffer);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      // Where the shown pixel (x, y) is stored.
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = width - 1 - x; sy = y; break;
        case 3: sx = width - 1 - x; sy = height - 1 - y; break;
        case 4: sx = x; sy = height - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = height - 1 - x; break;
        case 7: sx = width - 1 - y; sy = height - 1 - x; break;
        case 8: sx = width - 1 - y; sy = x; break;
      }
      out32[y * outWidth + x] = pixels32[sy * width + sx];
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}
