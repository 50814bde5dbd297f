import { IMAGE_BYTES, IMAGE_SIZE, type ImageDataset } from './dataset';
import { DatasetError } from './errors';

/**
 * The CIFAR-10 sample shipped with the app (public/cifar10-sample/, made by
 * scripts/make-cifar-sample.ts): per class and split, one PNG grid of 32×32 images, left to right,
 * top to bottom, and a manifest. Reading it needs only a PNG decoder, which every browser has.
 */
export const SAMPLE_MANIFEST = 'sample.json';
/** The training split's dataset name for the shipped sample (manifest name "CIFAR-10 sample"): runs on it are recognised by it, then checked by content hash. */
export const SAMPLE_TRAIN_NAME = 'CIFAR-10 sample (train)';

export interface SampleSplit {
  perClass: number;
  /** Images per row of each grid. */
  columns: number;
  /** One file per class, in class order. */
  files: string[];
}

export interface SampleManifest {
  format: 1;
  name: string;
  source: string;
  classes: string[];
  train: SampleSplit;
  test: SampleSplit;
}

/** An RGBA image as decoders give it. */
export interface RgbaImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

export interface SampleReader {
  /** The bytes of a file of the sample, by name. */
  read(file: string): Promise<Uint8Array>;
  decodePng(bytes: Uint8Array, file: string): Promise<RgbaImage>;
}

/** Both splits of the sample; classes interleaved (image k of class 0, of class 1, …) so any prefix is balanced. */
export async function loadCifarSample(reader: SampleReader): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const manifest = parseManifest(await reader.read(SAMPLE_MANIFEST));
  const [train, test] = await Promise.all(
    (['train', 'test'] as const).map((split) => loadSplit(reader, manifest, split)),
  );
  return { train, test };
}

function parseManifest(bytes: Uint8Array): SampleManifest {
  let m: SampleManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as SampleManifest;
  } catch {
    throw new DatasetError(SAMPLE_MANIFEST, 'not valid JSON: the CIFAR-10 sample is damaged; rebuild it with scripts/make-cifar-sample.ts');
  }
  const splitOk = (s: SampleSplit | undefined) =>
    !!s && Number.isInteger(s.perClass) && s.perClass > 0 && Number.isInteger(s.columns) && s.columns > 0 && Array.isArray(s.files) && s.files.length === m.classes?.length;
  if (m.format !== 1 || !Array.isArray(m.classes) || !splitOk(m.train) || !splitOk(m.test)) {
    throw new DatasetError(SAMPLE_MANIFEST, `not a version-1 sample manifest: rebuild the sample with scripts/make-cifar-sample.ts`);
  }
  return m;
}

async function loadSplit(reader: SampleReader, m: SampleManifest, split: 'train' | 'test'): Promise<ImageDataset> {
  const { perClass, columns, files } = m[split];
  const classes = m.classes.length;
  const size = perClass * classes;
  const images = new Uint8Array(size * IMAGE_BYTES);
  const labels = new Uint8Array(size);
  const rows = Math.ceil(perClass / columns);
  await Promise.all(
    files.map(async (file, c) => {
      const grid = await reader.decodePng(await reader.read(file), file);
      if (grid.width !== columns * IMAGE_SIZE || grid.height !== rows * IMAGE_SIZE) {
        throw new DatasetError(file, `${grid.width}×${grid.height} pixels, but the manifest says ${columns * IMAGE_SIZE}×${rows * IMAGE_SIZE}`);
      }
      for (let k = 0; k < perClass; k++) {
        const index = k * classes + c;
        labels[index] = c;
        const ox = (k % columns) * IMAGE_SIZE;
        const oy = Math.floor(k / columns) * IMAGE_SIZE;
        let o = index * IMAGE_BYTES;
        for (let y = 0; y < IMAGE_SIZE; y++) {
          let p = ((oy + y) * grid.width + ox) * 4;
          for (let x = 0; x < IMAGE_SIZE; x++, p += 4) {
            images[o++] = grid.data[p];
            images[o++] = grid.data[p + 1];
            images[o++] = grid.data[p + 2];
          }
        }
      }
    }),
  );
  return { name: `${m.name} (${split})`, images, labels, classNames: m.classes, size };
}
