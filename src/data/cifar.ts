import { IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from './dataset';
import { DatasetError, formatCount } from './errors';
import { sniffFormat } from './imageHeader';
import { formatBytes, MAX_DATASET_DECODED, MAX_DATASET_IMAGES } from './limits';

/**
 * The official CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size
 * records, each label byte(s) followed by the 32×32 red, green and blue planes, row-major.
 */
export type CifarFormat = 'cifar10' | 'cifar100';
/** CIFAR-100 records carry both a coarse (20 superclasses) and a fine (100 classes) label. */
export type Cifar100Labels = 'coarse' | 'fine';

const PLANE = IMAGE_SIZE * IMAGE_SIZE;
export const CIFAR10_RECORD_BYTES = 1 + IMAGE_BYTES;
export const CIFAR100_RECORD_BYTES = 2 + IMAGE_BYTES;

export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals',
  'trees', 'vehicles_1', 'vehicles_2',
];

export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle', 'bowl', 'boy',
  'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock',
  'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur', 'dolphin', 'elephant', 'flatfish', 'forest',
  'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard', 'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard',
  'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid',
  'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree', 'plain', 'plate', 'poppy', 'porcupine', 'possum',
  'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper',
  'snail', 'snake', 'spider', 'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone',
  'television', 'tiger', 'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf',
  'woman', 'worm',
];

export function recordBytes(format: CifarFormat): number {
  return format === 'cifar10' ? CIFAR10_RECORD_BYTES : CIFAR100_RECORD_BYTES;
}

export function formatLabel(format: CifarFormat): string {
  return format === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
}

/** The built-in class names of a format (the archives' own name files may replace them). */
export function cifarClassNames(format: CifarFormat, labels: Cifar100Labels = 'fine'): readonly string[] {
  if (format === 'cifar10') return CIFAR10_CLASSES;
  return labels === 'coarse' ? CIFAR100_COARSE_CLASSES : CIFAR100_FINE_CLASSES;
}

/** CIFAR-100's official files are `train.bin` and `test.bin`; everything else is taken for CIFAR-10's layout. */
export function isCifar100FileName(fileName: string): boolean {
  return /^(train|test)\.bin$/i.test(baseName(fileName));
}

/**
 * The format of a bare `.bin` file. The size decides when only one record size divides it; the
 * name decides otherwise (a size can be a multiple of both only at 3,073 × 3,074 bytes and beyond).
 */
export function guessCifarFormat(fileName: string, byteLength: number): CifarFormat {
  const fits10 = byteLength % CIFAR10_RECORD_BYTES === 0;
  const fits100 = byteLength % CIFAR100_RECORD_BYTES === 0;
  if (fits100 && !fits10) return 'cifar100';
  if (fits10 && !fits100) return 'cifar10';
  return isCifar100FileName(fileName) ? 'cifar100' : 'cifar10';
}

export interface CifarParseOptions {
  /** Named in error messages and, unless `name` is given, in the dataset's name. */
  fileName: string;
  /** Guessed from the file name and size when left out. */
  format?: CifarFormat;
  /** Which CIFAR-100 label to keep (default fine); ignored for CIFAR-10. */
  labels?: Cifar100Labels;
  /** Replaces the built-in names (e.g. from an archive's `batches.meta.txt`); must have one per class. */
  classNames?: readonly string[];
  name?: string;
}

/** A whole CIFAR-10 or CIFAR-100 binary file, read into an ImageDataset (pixels converted from CHW planes to HWC). */
export function parseCifar(bytes: Uint8Array, options: CifarParseOptions): ImageDataset {
  refuseOtherFormats(options.fileName, bytes);
  const format = options.format ?? guessCifarFormat(options.fileName, bytes.length);
  const decoder = new CifarRecordDecoder(format, options.labels ?? 'fine', bytes.length, options.fileName);
  decoder.push(bytes);
  const { images, labels } = decoder.finish();
  const classNames = options.classNames ?? cifarClassNames(format, options.labels);
  return { name: options.name ?? baseName(options.fileName), images, labels, classNames, size: labels.length };
}

/**
 * Decodes CIFAR records as their bytes arrive, in chunks of any size, straight into the final
 * pixel and label arrays: an archive never has to hold a member's raw bytes beside its decoded
 * images. The byte count is known in advance (a file's size, a tar member's header), so a size
 * that is not a whole number of records is refused before any work.
 */
export class CifarRecordDecoder {
  readonly records: number;
  private readonly recordSize: number;
  private readonly images: Uint8Array;
  private readonly labels: Uint8Array;
  /** A record split across chunks is gathered here before decoding. */
  private readonly pending: Uint8Array;
  private pendingBytes = 0;
  private decoded = 0;

  constructor(
    readonly format: CifarFormat,
    private readonly labelKind: Cifar100Labels,
    readonly expectedBytes: number,
    readonly fileName: string,
  ) {
    this.recordSize = recordBytes(format);
    this.records = cifarRecordCount(format, expectedBytes, fileName);
    this.images = new Uint8Array(this.records * IMAGE_BYTES);
    this.labels = new Uint8Array(this.records);
    this.pending = new Uint8Array(this.recordSize);
  }

  get bytesReceived(): number {
    return this.decoded * this.recordSize + this.pendingBytes;
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    if (this.pendingBytes > 0) {
      const take = Math.min(this.recordSize - this.pendingBytes, chunk.length);
      this.pending.set(chunk.subarray(0, take), this.pendingBytes);
      this.pendingBytes += take;
      offset = take;
      if (this.pendingBytes < this.recordSize) return;
      this.decodeRecord(this.pending, 0);
      this.pendingBytes = 0;
    }
    while (chunk.length - offset >= this.recordSize) {
      this.decodeRecord(chunk, offset);
      offset += this.recordSize;
    }
    const rest = chunk.length - offset;
    if (rest > 0) {
      this.pending.set(chunk.subarray(offset), 0);
      this.pendingBytes = rest;
    }
  }

  finish(): { images: Uint8Array; labels: Uint8Array } {
    if (this.decoded < this.records) {
      throw new DatasetError(
        this.fileName,
        `ends after ${formatCount(this.bytesReceived)} of ${formatCount(this.expectedBytes)} bytes (record ${formatCount(this.decoded + 1)} of ${formatCount(this.records)} is cut off)`,
      );
    }
    return { images: this.images, labels: this.labels };
  }

  private decodeRecord(source: Uint8Array, offset: number): void {
    if (this.decoded >= this.records) {
      throw new DatasetError(this.fileName, `holds more than the ${formatCount(this.expectedBytes)} bytes announced`);
    }
    const index = this.decoded;
    let pixels = offset + 1;
    if (this.format === 'cifar10') {
      this.labels[index] = this.checkedLabel(source[offset], 10, 'label', index);
    } else {
      const coarse = this.checkedLabel(source[offset], 20, 'coarse label', index);
      const fine = this.checkedLabel(source[offset + 1], 100, 'fine label', index);
      this.labels[index] = this.labelKind === 'coarse' ? coarse : fine;
      pixels = offset + 2;
    }
    const out = index * IMAGE_BYTES;
    for (let p = 0; p < PLANE; p++) {
      this.images[out + 3 * p] = source[pixels + p];
      this.images[out + 3 * p + 1] = source[pixels + PLANE + p];
      this.images[out + 3 * p + 2] = source[pixels + 2 * PLANE + p];
    }
    this.decoded++;
  }

  /** An out-of-range label is the surest sign that the bytes are not CIFAR records at all. */
  private checkedLabel(value: number, classes: number, what: string, index: number): number {
    if (value >= classes) {
      throw new DatasetError(
        this.fileName,
        `record ${formatCount(index + 1)} has ${what} ${value}, but ${formatLabel(this.format)} ${what}s go from 0 to ${classes - 1} (not a ${formatLabel(this.format)} file?)`,
      );
    }
    return value;
  }
}

/**
 * The number of records in `byteLength` bytes of CIFAR data, checked before anything is allocated:
 * an empty file, a size that is not a whole number of records, or more images than a dataset may
 * hold (MAX_DATASET_IMAGES) throw DatasetError naming the file.
 */
export function cifarRecordCount(format: CifarFormat, byteLength: number, fileName: string): number {
  const recordSize = recordBytes(format);
  if (byteLength === 0) throw new DatasetError(fileName, `the file is empty (expected ${formatLabel(format)} records of ${formatCount(recordSize)} bytes)`);
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) throw new DatasetError(fileName, `declares an impossible size (${byteLength} bytes): the file is damaged`);
  const records = Math.floor(byteLength / recordSize);
  if (records > MAX_DATASET_IMAGES) {
    throw new DatasetError(
      fileName,
      `is ${formatCount(byteLength)} bytes (${formatBytes(byteLength)}), ${formatCount(records)} ${formatLabel(format)} records: ` +
        `at most ${formatCount(MAX_DATASET_IMAGES)} images (${MAX_DATASET_DECODED} decoded) are read; use a part of the data`,
    );
  }
  const remainder = byteLength % recordSize;
  if (remainder !== 0) {
    throw new DatasetError(
      fileName,
      `${formatCount(byteLength)} bytes is not a whole number of ${formatCount(recordSize)}-byte ${formatLabel(format)} records ` +
        `(the last record is cut off after ${formatCount(remainder)} bytes: truncated, or not a ${formatLabel(format)} file); ` +
        `download it again (https://www.cs.toronto.edu/~kriz/cifar.html, the binary version)`,
    );
  }
  return records;
}

/**
 * A picture or another archive format given as a CIFAR binary file (a PNG renamed `.bin`) is named
 * as what it is. CIFAR records start with a label byte below 100, and none of these magic numbers do.
 */
export function refuseOtherFormats(fileName: string, head: Uint8Array): void {
  const format = sniffFormat(head);
  if (!format) return;
  const what =
    format === 'ZIP'
      ? 'a ZIP archive, not a CIFAR binary file: unzip it first (archives are read as .tar.gz or .tar)'
      : format === 'gzip'
        ? 'gzip-compressed, not a CIFAR binary file: name it .tar.gz if it is a CIFAR archive, or decompress it first'
        : `a ${format} image, not a CIFAR binary file: images are read from a folder with one sub-folder per class`;
  throw new DatasetError(fileName, `looks like ${what}`);
}

/** Class names from a name file (`batches.meta.txt`, `fine_label_names.txt`): one per line, blank lines dropped. */
export function parseClassNameFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1];
}
