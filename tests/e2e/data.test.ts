/**
 * Loading the user's data in the app, end to end in Chromium: a CIFAR-10 file through the file
 * picker (summary, per-class table, thumbnails drawn from the file's own pixels, a model rebuilt on
 * it), a corrupt file (named in the error, nothing changed), a .tar.gz dropped on the panel
 * (streamed in the Worker, its test batch held out), a folder dropped from disk with an empty class
 * folder (reported), a file deleted after it was picked (named), and back to the built-in dataset.
 * Nothing is trained: SwiftShader makes steps slow, and training on loaded data is the service's
 * tested path.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'fflate';
import { createTar } from 'nanotar';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, parseCifar } from '../../src/data/cifar';
import { samplesPerClass, thumbnailRGBA } from '../../src/data/summary';
import { EMPTY_PICK } from '../../src/ui/useDataset';
import { carveHeldOut } from '../../src/worker/datasets';
import { cifarBytes } from '../support/dataFixtures';
import { SHARED } from '../support/helpers';
import { openWithBuiltInData, RESULTS, text, useApp, waitFor } from './harness';

const TEST_1K = resolve(SHARED, 'data/cifar10/test_1k.bin');

/** The class table as rows of [name, train, held out]. */
async function classTable(page: Page): Promise<[string, number, number][]> {
  return page.locator('[data-testid=data-classes] tbody tr').evaluateAll((rows) =>
    rows.map((r) => {
      const cells = Array.from(r.children).map((c) => c.textContent ?? '');
      return [cells[0], Number(cells[1].replace(/,/g, '')), Number(cells[2].replace(/,/g, ''))] as [string, number, number];
    }),
  );
}

async function stepsPerEpoch(page: Page): Promise<number> {
  const hint = await page.getByText(/steps per epoch/).textContent();
  return Number(/([\d,]+) steps per epoch/.exec(hint ?? '')![1].replace(/,/g, ''));
}

describe('loading data in the app, end to end', () => {
  const app = useApp({ webgpu: true, viewport: { width: 1280, height: 1000 } });
  const bytes = new Uint8Array(readFileSync(TEST_1K));

  beforeAll(async () => {
    const { page, url } = app;
    await openWithBuiltInData(page, url);
  }, 240_000);

  it('loads test_1k.bin from the file picker: 1,000 images in 10 classes, thumbnails of its own pixels, a model on it', async () => {
    const { page } = app;
    const batch = Number(await page.locator('[data-testid=batch]').inputValue());
    await page.setInputFiles('[data-testid=data-files]', TEST_1K);
    await waitFor(page, 'the summary of test_1k.bin', async () => (await text(page, 'data-name')) === 'test_1k.bin', 60_000);
    expect(await text(page, 'data-count')).toBe('1,000 images in 10 classes');
    expect(await page.getByText('900 for training · 100 held out for evaluation').count()).toBe(1);
    expect(await classTable(page)).toEqual(CIFAR10_CLASSES.map((name) => [name, 90, 10]));
    // The model was rebuilt on the 900 training images, and the setup says so.
    expect(await stepsPerEpoch(page)).toBe(Math.floor(900 / batch));
    expect(await page.locator('[data-testid=dataset-size]').inputValue()).toBe('files');

    // Each class row draws its first 8 training images; the canvas holds exactly the file's pixels.
    const { train } = carveHeldOut(parseCifar(bytes, { fileName: 'test_1k.bin' }));
    const picked = samplesPerClass(train, 8);
    const drawn = await page.locator('[data-testid=data-thumbs]').evaluateAll((canvases) =>
      (canvases as HTMLCanvasElement[]).map((c) => ({ width: c.width, height: c.height, pixels: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) })),
    );
    expect(drawn.length).toBe(10);
    for (const [c, canvas] of drawn.entries()) {
      expect([canvas.width, canvas.height]).toEqual([8 * 32, 32]);
      const expected = new Uint8Array(8 * 32 * 32 * 4);
      picked[c].forEach((index, j) => {
        const rgba = thumbnailRGBA(train, index);
        for (let y = 0; y < 32; y++) expected.set(rgba.subarray(y * 128, (y + 1) * 128), (y * 8 * 32 + j * 32) * 4);
      });
      expect(canvas.pixels).toEqual(Array.from(expected));
    }
    // Not blank: CIFAR images vary.
    expect(new Set(drawn[0].pixels).size).toBeGreaterThan(100);
    await mkdir(RESULTS, { recursive: true });
    await page.locator('[data-testid=data-panel]').screenshot({ path: resolve(RESULTS, 'app-data-loaded.png') });
  }, 120_000);

  it('names a corrupt file and keeps the data in use', async () => {
    const { page } = app;
    const before = await stepsPerEpoch(page);
    await page.setInputFiles('[data-testid=data-files]', { name: 'broken.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3000) });
    const alert = page.locator('[data-testid=data-error]');
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.getAttribute('role')).toBe('alert');
    const message = await alert.textContent();
    expect(message).toContain('broken.bin: 3,000 bytes is not a whole number of 3,073-byte CIFAR-10 records');
    expect(message).toContain('still training on test_1k.bin');
    expect(await text(page, 'data-name')).toBe('test_1k.bin');
    expect(await text(page, 'data-count')).toBe('1,000 images in 10 classes');
    expect(await page.locator('[data-testid=data-thumbs]').count()).toBe(10);
    expect(await stepsPerEpoch(page)).toBe(before);
    // The training error banner is for training: a bad file is the panel's business.
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    await page.screenshot({ path: resolve(RESULTS, 'app-data-error.png'), fullPage: true });
  }, 120_000);

  it('streams a dropped cifar-10-binary.tar.gz in the Worker, with progress, its test batch held out', async () => {
    const { page } = app;
    const gz = gzipSync(
      createTar([
        { name: 'cifar-10-batches-bin/data_batch_1.bin', data: bytes.subarray(0, 600 * 3073) },
        { name: 'cifar-10-batches-bin/test_batch.bin', data: bytes.subarray(600 * 3073) },
      ]),
    );
    // Every progress bar the panel shows, as the page renders it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __progress: string[] }).__progress = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('[data-testid=data-progress]');
        if (bar?.hasAttribute('value')) seen.push(`${bar.getAttribute('value')}/${bar.getAttribute('max')}`);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const transfer = await page.evaluateHandle(async (base64) => {
      // Decoded here rather than fetched from a data: URL, which the app's CSP (connect-src 'self') refuses.
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([data], 'cifar-10-binary.tar.gz'));
      return dt;
    }, Buffer.from(gz).toString('base64'));
    await page.dispatchEvent('[data-testid=data-panel]', 'drop', { dataTransfer: transfer });
    await waitFor(page, 'the archive summary', async () => (await text(page, 'data-name')) === 'cifar-10-binary.tar.gz', 60_000);
    expect(await text(page, 'data-count')).toBe('1,000 images in 10 classes');
    expect(await page.getByText('600 for training · 400 held out for evaluation (the test batch)').count()).toBe(1);
    expect(await page.locator('[data-testid=data-error]').count()).toBe(0);
    const progress = await page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p).toMatch(new RegExp(`^\\d+/${gz.length}$`));
  }, 120_000);

  it('reads a picked folder of images in the Worker: sub-folders are the classes', async () => {
    const { page } = app;
    // 12 flat-coloured PNGs per class, of other sizes than 32×32: red for cats, blue for dogs.
    const dir = join(mkdtempSync(join(tmpdir(), 'moco-e2e-')), 'pets');
    for (const [name, colour] of [
      ['cats', [220, 30, 30]],
      ['dogs', [30, 30, 220]],
    ] as const) {
      mkdirSync(join(dir, name), { recursive: true });
      for (let i = 0; i < 12; i++) {
        const data = Buffer.alloc(48 * 40 * 4);
        for (let p = 0; p < 48 * 40; p++) data.set([...colour, 255], p * 4);
        writeFileSync(join(dir, name, `${i}.png`), PNG.sync.write({ width: 48, height: 40, data } as PNG));
      }
    }
    await page.setInputFiles('[data-testid=data-folder]', dir);
    await waitFor(page, 'the folder summary', async () => (await text(page, 'data-name')) === basename(dir), 60_000);
    expect(await text(page, 'data-count')).toBe('24 images in 2 classes');
    expect(await classTable(page)).toEqual([
      ['cats', 11, 1],
      ['dogs', 11, 1],
    ]);
    const centres = await page.locator('[data-testid=data-thumbs]').evaluateAll((canvases) =>
      (canvases as HTMLCanvasElement[]).map((c) => Array.from(c.getContext('2d')!.getImageData(16, 16, 1, 1).data)),
    );
    expect(centres).toEqual([
      [220, 30, 30, 255],
      [30, 30, 220, 255],
    ]);

    // An empty folder picked: the browser hands over no file, not even the folder's name; the
    // panel says so and what to pick, and the folder in use stays.
    const empty = mkdtempSync(join(tmpdir(), 'moco-e2e-empty-'));
    await page.setInputFiles('[data-testid=data-folder]', empty);
    await page.locator('[data-testid=data-error]').waitFor({ timeout: 10_000 });
    expect(await text(page, 'data-error')).toBe(`Not loaded — ${EMPTY_PICK} (still training on pets)`);
    expect(await text(page, 'data-name')).toBe('pets');
  }, 120_000);

  it('reads CIFAR-100 files again when the label choice changes', async () => {
    const { page } = app;
    const records = cifarBytes(Array.from({ length: 40 }, (_, i) => [i % 20, (i * 3) % 100]));
    await page.setInputFiles('[data-testid=data-files]', { name: 'train.bin', mimeType: 'application/octet-stream', buffer: Buffer.from(records) });
    await waitFor(page, 'the CIFAR-100 summary', async () => (await text(page, 'data-name')) === 'train.bin', 60_000);
    expect(await text(page, 'data-count')).toBe('40 images in 100 classes');
    await page.selectOption('[data-testid=data-labels]', 'coarse');
    await waitFor(page, 'coarse labels', async () => (await text(page, 'data-count')) === '40 images in 20 classes', 60_000);
    expect((await classTable(page)).map((r) => r[0])).toEqual(CIFAR100_COARSE_CLASSES);
    expect(await page.locator('[data-testid=data-error]').count()).toBe(0);
  }, 120_000);

  it('reports a class folder without images in a dropped folder, as the headless trainer does', async () => {
    const { page } = app;
    // zoo/cats and zoo/dogs with 12 PNGs each, zoo/empty with none. A real drop of the folder from
    // disk (CDP's drag with file paths): the page walks its entries, empty folders included.
    const dir = join(mkdtempSync(join(tmpdir(), 'moco-e2e-')), 'zoo');
    for (const [name, colour] of [
      ['cats', [220, 30, 30]],
      ['dogs', [30, 30, 220]],
    ] as const) {
      mkdirSync(join(dir, name), { recursive: true });
      const data = Buffer.alloc(16 * 16 * 4);
      for (let p = 0; p < 16 * 16; p++) data.set([...colour, 255], p * 4);
      for (let i = 0; i < 12; i++) writeFileSync(join(dir, name, `${i}.png`), PNG.sync.write({ width: 16, height: 16, data } as PNG));
    }
    mkdirSync(join(dir, 'empty'));
    // Chromium leaves symbolic links out of a dropped folder without a word to the page (the trainer
    // reads links to files): this one is not counted, and the README says so.
    symlinkSync(join(dir, 'cats', '0.png'), join(dir, 'cats', 'linked.png'));
    const panel = page.locator('[data-testid=data-panel]');
    await panel.scrollIntoViewIfNeeded();
    const box = (await panel.boundingBox())!;
    const cdp = await page.context().newCDPSession(page);
    for (const type of ['dragEnter', 'dragOver', 'drop'] as const) {
      await cdp.send('Input.dispatchDragEvent', {
        type,
        x: box.x + box.width / 2,
        y: box.y + Math.min(box.height / 2, 40),
        data: { items: [], files: [dir], dragOperationsMask: 1 },
      });
    }
    await cdp.detach();
    await waitFor(page, 'the dropped folder summary', async () => (await text(page, 'data-name')) === 'zoo', 60_000);
    expect(await text(page, 'data-count')).toBe('24 images in 2 classes');
    expect(await page.locator('[data-testid=data-warnings] li').allTextContents()).toEqual(['⚠ zoo: class folder without images left out: empty']);
    expect(await page.locator('[data-testid=data-error]').count()).toBe(0);
  }, 120_000);

  it('names a file deleted after it was picked, says what to do, and keeps the data in use', async () => {
    const { page } = app;
    const path = join(mkdtempSync(join(tmpdir(), 'moco-e2e-')), 'data_batch_1.bin');
    writeFileSync(path, cifarBytes(Array.from({ length: 20 }, (_, i) => [i % 10])));
    await pickFromDisk(page, path);
    // Its size is taken now (Chromium looks it up on first use), while the file is still there.
    expect(await page.evaluate(() => (document.getElementById('test-picker') as HTMLInputElement).files![0].size)).toBe(20 * 3073);
    rmSync(path);
    await dropPicked(page);
    const alert = page.locator('[data-testid=data-error]');
    await alert.waitFor({ timeout: 60_000 });
    const message = await alert.textContent();
    expect(message).toContain('data_batch_1.bin: no such file any more: it was moved or deleted after it was picked (put it back, or pick or drop the files again)');
    expect(message).toContain('still training on zoo');
    expect(await text(page, 'data-name')).toBe('zoo');
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
  }, 120_000);

  it('names a picked file deleted before its size was ever read as gone, not as empty', async () => {
    const { page } = app;
    const path = join(mkdtempSync(join(tmpdir(), 'moco-e2e-')), 'data_batch_2.bin');
    writeFileSync(path, cifarBytes(Array.from({ length: 20 }, (_, i) => [i % 10])));
    const before = await text(page, 'data-name');
    await pickFromDisk(page, path);
    // Deleted before anything asked for its size: Chromium then gives 0, and its slices read nothing.
    rmSync(path);
    await dropPicked(page);
    await waitFor(page, 'the message about data_batch_2.bin', async () => ((await page.locator('[data-testid=data-error]').textContent()) ?? '').includes('data_batch_2.bin'), 60_000);
    const message = await page.locator('[data-testid=data-error]').textContent();
    expect(message).toContain('data_batch_2.bin: no such file any more: it was moved or deleted after it was picked (put it back, or pick or drop the files again)');
    expect(message).not.toContain('empty');
    expect(await text(page, 'data-name')).toBe(before);
  }, 120_000);

  it('goes back to the built-in dataset, chosen while a large file is read: the file is dropped without an error', async () => {
    const { page, pageErrors } = app;
    // 20 copies of test_1k.bin (61 MB): read long enough to choose again meanwhile.
    const big = join(mkdtempSync(join(tmpdir(), 'moco-big-')), 'big.bin');
    writeFileSync(big, Buffer.concat(Array.from({ length: 20 }, () => bytes)));
    await page.setInputFiles('[data-testid=data-files]', big);
    const loading = page.locator('[data-testid=data-loading]');
    await loading.filter({ hasText: 'big.bin' }).waitFor({ timeout: 30_000 });
    // The panel takes another choice while big.bin is read.
    expect(await page.locator('[data-testid=data-builtin]').isDisabled()).toBe(false);
    await page.click('[data-testid=data-builtin]');
    await waitFor(page, 'the built-in summary', async () => (await text(page, 'data-name')) === 'Built-in shapes' && (await loading.count()) === 0, 60_000);
    // The panel says that big.bin is being dropped until its read ends in the Worker, refused there
    // as replaced (on a fast machine it may have ended already): then no error, and the built-in data stays.
    const dropping = page.locator('[data-testid=data-dropping]');
    for (const line of await dropping.allTextContents()) expect(line).toMatch(/^Dropping big\.bin, replaced by a later choice/);
    await dropping.waitFor({ state: 'detached', timeout: 90_000 });
    expect(await page.locator('[data-testid=data-error]').count()).toBe(0);
    expect(await text(page, 'data-name')).toBe('Built-in shapes');
    expect(await page.locator('[data-testid=dataset-size]').inputValue()).not.toBe('files');
    expect(await page.locator('[data-testid=data-builtin]').isDisabled()).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});

/** A File backed by the disk file at `path`, as the pickers give, taken by an input of the test's own. */
async function pickFromDisk(page: Page, path: string): Promise<void> {
  await page.evaluate(() => {
    if (document.getElementById('test-picker')) return;
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'test-picker';
    input.hidden = true;
    document.body.append(input);
  });
  await page.setInputFiles('#test-picker', path);
}

/** Drops the file `pickFromDisk` took on the Data panel. */
async function dropPicked(page: Page): Promise<void> {
  const transfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add((document.getElementById('test-picker') as HTMLInputElement).files![0]);
    return dt;
  });
  await page.dispatchEvent('[data-testid=data-panel]', 'drop', { dataTransfer: transfer });
}
