/**
 * The app's loader of the shipped CIFAR-10 sample, over HTTP as the Worker fetches it (a local
 * server for public/cifar10-sample/, pngjs standing in for the browser's PNG decoder): the dataset it
 * gives training, the progress it reports, and the messages when the files are missing or damaged.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES } from '../../src/data/cifar';
import { classCounts } from '../../src/data/dataset';
import { DatasetError } from '../../src/data/errors';
import { loadSample } from '../../src/worker/datasets';
import { TrainingData } from '../../src/worker/trainingData';
import type { LoadProgress } from '../../src/worker/types';
import { TINY_SETUP } from './setup';
import { rejection, REPO_ROOT } from '../support/helpers';

const SAMPLE_DIR = resolve(REPO_ROOT, 'public/cifar10-sample');
const decodePng = async (bytes: Uint8Array, file: string) => {
  try {
    return PNG.sync.read(Buffer.from(bytes));
  } catch {
    throw new DatasetError(file, 'is not a PNG this browser can decode');
  }
};

/** Serves the sample under /good/, nothing under /missing/, index.html for anything under /spa/, a truncated PNG under /garbled/. */
function serve(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const [, mode, file] = /^\/(\w+)\/(.+)$/.exec(req.url ?? '') ?? [];
      if (mode === 'spa') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
      if (mode === 'missing' || !file) return res.writeHead(404).end();
      const bytes = await readFile(join(SAMPLE_DIR, file));
      const body = mode === 'garbled' && file === 'train-cat.png' ? bytes.subarray(0, 1000) : bytes;
      res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'image/png' }).end(body);
    })();
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describe('loadSample: the CIFAR-10 sample over HTTP', () => {
  let served: { server: Server; base: string };
  beforeAll(async () => {
    served = await serve();
  });
  afterAll(() => {
    served.server.close();
  });

  it('gives 5,000 training images and the 1,000 test images held out, in 10 classes, reporting progress per grid', async () => {
    const progress: LoadProgress[] = [];
    const start = performance.now();
    const data = await loadSample(`${served.base}/good/`, (p) => progress.push(p), decodePng);
    console.log(`CIFAR-10 sample over HTTP, decoded by pngjs: ${(performance.now() - start).toFixed(0)} ms`);
    expect(data).toMatchObject({ name: 'CIFAR-10 sample', format: 'cifar10', labels: null, heldOutFrom: 'test-split' });
    expect([data.train.size, data.heldOut.size]).toEqual([5000, 1000]);
    expect(data.train.classNames).toEqual(CIFAR10_CLASSES);
    expect(classCounts(data.train)).toEqual(new Array(10).fill(500));
    expect(classCounts(data.heldOut)).toEqual(new Array(10).fill(100));
    expect(progress.length).toBe(20);
    expect(progress.at(-1)).toMatchObject({ done: 6000, total: 6000, unit: 'images' });
    expect(progress.every((p) => p.file.startsWith('cifar10-sample/'))).toBe(true);
  });

  it('becomes the data a setup with dataset "sample" trains on, its test images held out, until the built-in data is back', async () => {
    const data = new TrainingData();
    expect(() => data.trainFor({ ...TINY_SETUP, dataset: 'sample' })).toThrow('no CIFAR-10 sample loaded: load a dataset first');
    const sample = await loadSample(`${served.base}/good/`, undefined, decodePng);
    data.useFiles(sample, 'sample');
    expect(data.has('sample')).toBe(true);
    expect(data.has('files')).toBe(false);
    expect(() => data.trainFor({ ...TINY_SETUP, dataset: 'files' })).toThrow('no files loaded');
    expect(data.trainFor({ ...TINY_SETUP, dataset: 'sample' })).toBe(sample.train);
    expect(data.heldOut).toBe(sample.heldOut);
    expect(data.info()).toMatchObject({ source: 'sample', name: 'CIFAR-10 sample', format: 'cifar10', trainSize: 5000, heldOutSize: 1000, heldOutFrom: 'test-split' });
    data.trainFor(TINY_SETUP);
    expect(data.has('sample')).toBe(false);
    expect(data.info()?.source).toBe('synthetic');
  });

  it('names the missing file and says how to serve the sample', async () => {
    const e = await rejection(loadSample(`${served.base}/missing/`, undefined, decodePng));
    expect(e).toBeInstanceOf(DatasetError);
    expect(e.message).toBe(
      'cifar10-sample/sample.json: could not be fetched (HTTP 404): the app is served without its CIFAR-10 sample: serve the folder public/cifar10-sample/ of the repository (a Vite build copies it into dist/)',
    );
  });

  it('takes a web page in place of the file (a single-page host) for a missing file', async () => {
    const e = await rejection(loadSample(`${served.base}/spa/`, undefined, decodePng));
    expect(e.message).toMatch(/^cifar10-sample\/sample\.json: is missing \(the server answered with a web page\)/);
  });

  it('names a damaged grid', async () => {
    const e = await rejection(loadSample(`${served.base}/garbled/`, undefined, decodePng));
    expect(e.message).toBe('cifar10-sample/train-cat.png: is not a PNG this browser can decode');
  });
});
