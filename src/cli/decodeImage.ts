import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError } from '../data/errors';
import { fileBytes, type ImageFile } from '../data/imageFolder';
import { thumbnailFromRGBA } from '../data/resize';

/**
 * The headless trainer's image decoder: PNG (pngjs) and JPEG (jpeg-js), both pure JavaScript, then
 * the same centre-square resize as everywhere. Other formats that browsers decode are named in the
 * message, so the user knows to convert them or use the app.
 */
export async function decodeImageBytes(file: ImageFile): Promise<Uint8Array> {
  const bytes = await fileBytes(file);
  const format = sniffFormat(bytes);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    if (format === 'PNG') {
      // pngjs expands palettes, grey and 16-bit channels to 8-bit RGBA.
      decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } else if (format === 'JPEG') {
      decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 200, maxMemoryUsageInMB: 1024 });
    } else if (format) {
      throw new DatasetError(file.path, `${format} images are read only in the browser app; the headless trainer reads PNG and JPEG`);
    } else {
      throw new DatasetError(file.path, 'not an image (the headless trainer reads PNG and JPEG files)');
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(file.path, `not a readable ${format} image (${(e as Error).message})`);
  }
  return thumbnailFromRGBA(decoded.data, decoded.width, decoded.height);
}

/** The format from the file's first bytes: extensions lie, magic numbers rarely do. */
function sniffFormat(b: Uint8Array): string | undefined {
  const ascii = (start: number, end: number) => String.fromCharCode(...b.subarray(start, end));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'PNG';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(4, 8) === 'ftyp') return /^(avif|avis)$/.test(ascii(8, 12)) ? 'AVIF' : 'HEIF/MP4';
  return undefined;
}
