import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LiveParams } from '../../src/moco/config';
import { copyLink, decodeSetupLink, encodeSetupLink, isSetupLink } from '../../src/ui/shareLink';
import { defaultParams, type SetupForm } from '../../src/ui/useTraining';

const BASE: SetupForm = { version: 'v2', preset: 'tiny', batchSize: 16, dataset: 'synthetic', datasetSize: 2000, stepBudget: 0, seed: 1 };

describe('a setup as a shared link', () => {
  it('round-trips every setup field and live parameter, the sample included', () => {
    const setup: SetupForm = { version: 'v1', preset: 'resnet8', batchSize: 128, dataset: 'sample', datasetSize: 5000, stepBudget: 20000, seed: 7 };
    const params: LiveParams = { momentum: 0.999, queueSize: 16384, temperature: 0.07, learningRate: 0.015 };
    const query = encodeSetupLink(setup, params);
    expect(query).toBe('preset=resnet8&method=v1&batch=128&data=sample&steps=20000&seed=7&m=0.999&K=16384&T=0.07&lr=0.015');
    const back = decodeSetupLink(`?${query}`, BASE, defaultParams);
    expect(back).toEqual({ setup: { ...setup, dataset: 'synthetic', datasetSize: BASE.datasetSize }, params, sample: true, ignored: [] });
  });

  it('writes the built-in shapes with their size, and the user’s files as the shapes (files cannot travel)', () => {
    const params = defaultParams(BASE);
    expect(encodeSetupLink({ ...BASE, datasetSize: 10000 }, params)).toContain('data=shapes&n=10000');
    const files = decodeSetupLink(`?${encodeSetupLink({ ...BASE, dataset: 'files' }, params)}`, BASE, defaultParams);
    expect(files.setup).toEqual(BASE);
    expect(files.sample).toBe(false);
  });

  it('gives what a link leaves out the defaults of its setup: the learning rate of its batch, the temperature of its method', () => {
    const { setup, params } = decodeSetupLink('?batch=256&method=v1&backend=webgl', BASE, defaultParams);
    expect(setup).toEqual({ ...BASE, batchSize: 256, version: 'v1' });
    expect(params).toEqual({ momentum: 0.99, queueSize: 4096, temperature: 0.07, learningRate: 0.03 });
  });

  it('leaves values out of the form’s reach at the default and names each with the reason', () => {
    const { setup, params, ignored } = decodeSetupLink('?preset=resnet50&batch=17&m=1.5&K=1000&T=abc&lr=&steps=7&seed=-1&data=imagenet', BASE, defaultParams);
    expect(setup).toEqual(BASE);
    expect(params).toEqual(defaultParams(BASE));
    expect(ignored).toEqual([
      'preset=resnet50 (not one of tiny, resnet8, resnet8-wide, resnet14, resnet18)',
      'batch=17 (not one of 8, 16, 32, 64, 128, 256, 512)',
      'data=imagenet (not one of shapes, sample)',
      'steps=7 (not one of 0, 100, 500, 1000, 5000, 20000, 100000)',
      'seed=-1 (not an integer from 0 to 4294967295)',
      'm=1.5 (not in [0, 0.9999])',
      'K=1000 (at batch 16, not one of 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)',
      'T=abc (not in [0.01, 1])',
      'lr= (not in [0.0001, 1])',
    ]);
  });

  it('tells a shared link from a page opened plainly or with developer options', () => {
    expect(isSetupLink('')).toBe(false);
    expect(isSetupLink('?backend=webgl&testHooks')).toBe(false);
    expect(isSetupLink('?m=0.9')).toBe(true);
  });
});

describe('Copy link (the setup\'s, the replay\'s)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('puts the link on the clipboard', async () => {
    const written: string[] = [];
    vi.stubGlobal('navigator', { clipboard: { writeText: async (text: string) => void written.push(text) } });
    await copyLink('http://localhost:5173/?replay=%2Freplay%2Fa.zip');
    expect(written).toEqual(['http://localhost:5173/?replay=%2Freplay%2Fa.zip']);
  });

  it('on a page without a clipboard (the app over plain HTTP on a classroom network) rejects, for the link to be shown, rather than throw out of the click', async () => {
    // A browser on an insecure origin: navigator without `clipboard`.
    vi.stubGlobal('navigator', {});
    let copying: Promise<void> | undefined;
    expect(() => {
      copying = copyLink('http://192.168.1.20:5173/?replay=%2Freplay%2Fa.zip');
    }).not.toThrow();
    await expect(copying).rejects.toThrow(TypeError);
  });
});
