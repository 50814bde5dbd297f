import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError } from '../data/errors';
import { jpegOrientation, orientRGBA } from '../data/exif';
import { fileBytes, NOT_AN_IMAGE_FIX, type ImageFile } from '../data/imageFolder';
import { checkImageSize, sniffFormat } from '../data/imageHeader';
import { thumbnailFromRGBA } from '../data/resize';

/** What to do with a file of the image folder that is no image: as the app says it (browserImages.ts), with what this decoder reads. */
const MOVE_IT_OUT = `${NOT_AN_IMAGE_FIX} (the headless trainer reads PNG and JPEG files)`;

/**
 * The headless trainer's image decoder: PNG (pngjs) and JPEG (jpeg-js, turned by its EXIF
 * orientation as browsers do), both pure JavaScript, then the same centre-square resize as everywhere. Other formats that browsers decode are named in the
 * message, so the user knows to convert them or use the app.
 */
export async function decodeImageBytes(file: ImageFile): Promise<Uint8Array> {
  const bytes = await fileBytes(file);
  const format = sniffFormat(bytes);
  let decoded: { width: number; height: number; data: Uint8Array };
  if (format === 'PNG' || format === 'JPEG') checkImageSize(file.path, bytes);
  try {
    if (format === 'PNG') {
      // pngjs expands palettes, grey and 16-bit channels to 8-bit RGBA.
      decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } else if (format === 'JPEG') {
      const stored = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 200, maxMemoryUsageInMB: 1024 });
      // As the app's createImageBitmap shows it: turned by the EXIF orientation, before the crop.
      decoded = orientRGBA(stored.data, stored.width, stored.height, jpegOrientation(bytes));
    } else if (format === 'ZIP' || format === 'gzip') {
      throw new DatasetError(file.path, `a ${format} archive, not an image: ${MOVE_IT_OUT}`);
    } else if (format) {
      throw new DatasetError(file.path, `${format} images are read only in the browser app; the headless trainer reads PNG and JPEG`);
    } else {
      throw new DatasetError(file.path, `not an image: ${MOVE_IT_OUT}`);
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(file.path, `not a readable ${format} image (${(e as Error).message})`);
  }
  return thumbnailFromRGBA(decoded.data, decoded.width, decoded.height);
}
