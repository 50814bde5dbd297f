import { IMAGE_BYTES, IMAGE_SIZE } from './dataset';
import { DatasetError } from './errors';
import { fileHead } from './fileHead';
import { checkImageSize } from './imageHeader';
import { fileBytes, NOT_AN_IMAGE_FIX, type ImageFile } from './imageFolder';
import { centreSquare } from './resize';

/** The first bytes read for a picture's size: enough to reach a JPEG's frame header past its EXIF and colour-profile segments. */
const HEADER_BYTES = 256 * 1024;

/**
 * The app's image decoder, for a page or a Web Worker: createImageBitmap decodes whatever the
 * browser can (JPEG, PNG, GIF, WebP, AVIF, …, EXIF orientation applied), and an OffscreenCanvas
 * draws the centre square at 32×32 over white — the same crop and background as the Node decoder
 * (resize.ts); the browser's high-quality smoothing does the resampling, so pixels may differ
 * slightly from Node's.
 */
export async function decodeImageInBrowser(file: ImageFile): Promise<Uint8Array> {
  const blob = file.data instanceof Blob ? file.data : new Blob([(await fileBytes(file)) as Uint8Array<ArrayBuffer>]);
  // The header, checked before the browser allocates the pixels (a 746 kB PNG can declare 16000 × 16000).
  checkImageSize(file.path, await fileHead(blob, HEADER_BYTES));
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    throw new DatasetError(file.path, `not an image this browser can decode: ${NOT_AN_IMAGE_FIX} (the app reads what the browser shows: JPEG, PNG, GIF, WebP, …)`);
  }
  try {
    const { x, y, side } = centreSquare(bitmap.width, bitmap.height);
    const canvas = new OffscreenCanvas(IMAGE_SIZE, IMAGE_SIZE);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('OffscreenCanvas has no 2d context');
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, IMAGE_SIZE, IMAGE_SIZE);
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, x, y, side, side, 0, 0, IMAGE_SIZE, IMAGE_SIZE);
    const rgba = context.getImageData(0, 0, IMAGE_SIZE, IMAGE_SIZE).data;
    const rgb = new Uint8Array(IMAGE_BYTES);
    for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
      rgb[3 * p] = rgba[4 * p];
      rgb[3 * p + 1] = rgba[4 * p + 1];
      rgb[3 * p + 2] = rgba[4 * p + 2];
    }
    return rgb;
  } finally {
    bitmap.close();
  }
}

/**
 * A PNG's exact pixels in a page or Worker: no colour-space conversion or premultiplication, so that
 * the shipped sample's bytes come out as they were written.
 */
export async function decodePngInBrowser(bytes: Uint8Array, file: string): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch {
    throw new DatasetError(file, 'is not a PNG this browser can decode');
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('OffscreenCanvas has no 2d context');
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}
