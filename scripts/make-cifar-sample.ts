/**
 * Builds the CIFAR-10 sample the app ships (public/cifar10-sample/): per class, one PNG grid of the
 * first 500 training and the first 100 test images of the official binaries, lossless, with a
 * manifest. PNG because every browser decodes it natively and fast (createImageBitmap) and it keeps
 * the pixels exact; a grid per class because 20 files load faster than 6,000.
 *   npx tsx scripts/make-cifar-sample.ts TRAIN.bin TEST.bin [OUT_DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { CIFAR10_CLASSES, CIFAR10_RECORD_BYTES } from '../src/data/cifar';
import { SAMPLE_MANIFEST, type SampleManifest, type SampleSplit } from '../src/data/cifarSample';

const [trainPath, testPath, outDir = 'public/cifar10-sample'] = process.argv.slice(2);
if (!trainPath || !testPath) {
  console.error('usage: npx tsx scripts/make-cifar-sample.ts TRAIN.bin TEST.bin [OUT_DIR]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

function writeSplit(path: string, split: 'train' | 'test', perClass: number, columns: number): SampleSplit {
  const records = readFileSync(path);
  const n = records.length / CIFAR10_RECORD_BYTES;
  const rows = Math.ceil(perClass / columns);
  const files: string[] = [];
  CIFAR10_CLASSES.forEach((name, c) => {
    const picked: number[] = [];
    for (let i = 0; i < n && picked.length < perClass; i++) if (records[i * CIFAR10_RECORD_BYTES] === c) picked.push(i);
    if (picked.length < perClass) throw new Error(`${path}: only ${picked.length} images of ${name}`);
    const png = new PNG({ width: columns * 32, height: rows * 32 });
    png.data.fill(255);
    picked.forEach((r, j) => {
      const ox = (j % columns) * 32;
      const oy = Math.floor(j / columns) * 32;
      const base = r * CIFAR10_RECORD_BYTES + 1;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const o = ((oy + y) * columns * 32 + ox + x) * 4;
          const p = base + y * 32 + x;
          png.data[o] = records[p];
          png.data[o + 1] = records[p + 1024];
          png.data[o + 2] = records[p + 2048];
        }
      }
    });
    const file = `${split}-${name}.png`;
    writeFileSync(join(outDir, file), PNG.sync.write(png, { colorType: 2, deflateLevel: 9 }));
    files.push(file);
  });
  return { perClass, columns, files };
}

const manifest: SampleManifest = {
  format: 1,
  name: 'CIFAR-10 sample',
  source:
    'CIFAR-10 (Krizhevsky, 2009), https://www.cs.toronto.edu/~kriz/cifar.html: the first 500 training and 100 test ' +
    'images of each class, from a JPEG (quality 75) copy of the official set',
  classes: [...CIFAR10_CLASSES],
  train: writeSplit(trainPath, 'train', 500, 20),
  test: writeSplit(testPath, 'test', 100, 10),
};
writeFileSync(join(outDir, SAMPLE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote ${outDir}: ${manifest.classes.length} classes, ${manifest.train.perClass}/${manifest.test.perClass} train/test images each`);
