import { DatasetError, formatCount } from './errors';
import { MAX_IMAGE_PIXELS } from './limits';

/**
 * What a file is, from its first bytes (extensions lie, magic numbers rarely do), and a picture's
 * size from its header: read before decoding, so that a small file declaring a huge picture (a
 * "decompression bomb") is refused before its pixels are allocated.
 */

export type SniffedFormat = 'PNG' | 'JPEG' | 'GIF' | 'WebP' | 'BMP' | 'AVIF' | 'HEIF/MP4' | 'ZIP' | 'gzip';

export function sniffFormat(b: Uint8Array): SniffedFormat | undefined {
  const ascii = (start: number, end: number) => (b.length >= end ? String.fromCharCode(...b.subarray(start, end)) : '');
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'PNG';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(4, 8) === 'ftyp') return /^(avif|avis)$/.test(ascii(8, 12)) ? 'AVIF' : 'HEIF/MP4';
  if (ascii(0, 4) === 'PK\x03\x04') return 'ZIP';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  return undefined;
}

/** Width and height from a PNG, JPEG, GIF, WebP or BMP header; undefined when the bytes given do not reach them. */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const format = sniffFormat(b);
  if (format === 'PNG') return b.length >= 24 ? { width: view.getUint32(16), height: view.getUint32(20) } : undefined;
  if (format === 'GIF') return b.length >= 10 ? { width: view.getUint16(6, true), height: view.getUint16(8, true) } : undefined;
  if (format === 'BMP') return b.length >= 26 ? { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) } : undefined;
  if (format === 'WebP' && b.length >= 30) {
    const chunk = String.fromCharCode(...b.subarray(12, 16));
    if (chunk === 'VP8X') return { width: 1 + (b[24] | (b[25] << 8) | (b[26] << 16)), height: 1 + (b[27] | (b[28] << 8) | (b[29] << 16)) };
    if (chunk === 'VP8L') {
      const bits = view.getUint32(21, true);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
    if (chunk === 'VP8 ') return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    return undefined;
  }
  if (format === 'JPEG') {
    // Walk the segments to the first start-of-frame marker (SOF0–SOF15 but DHT, JPG and DAC).
    let at = 2;
    while (at + 9 <= b.length) {
      if (b[at] !== 0xff) return undefined;
      const marker = b[at + 1];
      if (marker === 0xff) {
        at++; // fill byte
        continue;
      }
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      }
      if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        at += 2;
        continue;
      }
      at += 2 + view.getUint16(at + 2);
    }
  }
  return undefined;
}

/** Refuses a picture whose header declares more than MAX_IMAGE_PIXELS (or no pixels at all), before it is decoded. */
export function checkImageSize(file: string, head: Uint8Array): void {
  const size = imageDimensions(head);
  if (!size) return;
  const { width, height } = size;
  if (width === 0 || height === 0) throw new DatasetError(file, `declares a picture of ${width} × ${height} pixels: the file is damaged`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new DatasetError(
      file,
      `is ${formatCount(width)} × ${formatCount(height)} pixels (${formatCount(Math.round((width * height) / 1e6))} megapixels); ` +
        `pictures up to ${MAX_IMAGE_PIXELS / 1e6} megapixels are read: scale it down first`,
    );
  }
}
