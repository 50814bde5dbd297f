/**
 * What the panels say where a new user, a student or a teacher looked (the audit of issues #13 and
 * #14): file pickers that the keyboard reaches, a probe result kept by a checkpoint or a recording
 * (no feature width, no per-class counts) shown without NaN or "0 / 0", and a recording made
 * without a GPU told apart from the GPU one the replay panel promises.
 */
import { readFileSync } from 'node:fs';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { decodeRecording } from '../../src/train/recording';
import { BackendBadge } from '../../src/ui/components/BackendBadge';
import { probeDetails } from '../../src/ui/components/Evaluation';
import { FilePickButton } from '../../src/ui/components/FilePickButton';
import { cleanRunName } from '../../src/ui/components/SavedRuns';
import { PerClassTable } from '../../src/ui/components/KnnChart';
import { recordedWithoutGpu } from '../../src/ui/renderer';
import { REPO_ROOT } from '../support/helpers';


describe('a file picker drawn as a button', () => {
  it('keeps its file input in the tab order (visually hidden, not hidden)', () => {
    const html = renderToStaticMarkup(createElement(FilePickButton, { accept: '.zip', testId: 'load-weights', onFile: () => {}, children: 'Load weights…' }));
    const input = /<input[^>]*>/.exec(html)![0];
    expect(input).toContain('type="file"');
    expect(input).not.toMatch(/\shidden(=|\s|>|\/)/);
    expect(input).toContain('class="visually-hidden"');
    // A disabled picker is no keyboard stop: the input is disabled with it.
    const disabled = renderToStaticMarkup(createElement(FilePickButton, { accept: '.zip', testId: 'x', disabled: true, onFile: () => {}, children: 'Open…' }));
    expect(/<input[^>]*>/.exec(disabled)![0]).toContain('disabled=""');
    expect(disabled).toContain('btn--disabled');
  });
});

describe('a probe result as the Evaluation panel words it', () => {
  const trained = { classNames: Array.from({ length: 10 }, (_, i) => `c${i}`), epochs: 20, trainSize: 5000, featureDim: 64, seconds: 7.7 };

  it('names the features it was trained on', () => {
    expect(probeDetails(trained)).toBe('chance 10.0% · 20 epochs on 5,000 × 64 features · 7.7 s');
  });

  it('leaves out the feature width a checkpoint or recording did not keep, never writing NaN', () => {
    const kept = probeDetails({ ...trained, epochs: 5, featureDim: Number.NaN });
    expect(kept).toBe('chance 10.0% · 5 epochs on 5,000 images · 7.7 s');
    expect(kept).not.toContain('NaN');
  });

  it('shows per-class counts where it has them and a dash where only the accuracy was kept', () => {
    const html = renderToStaticMarkup(
      createElement(PerClassTable, {
        perClass: [
          { correct: 37, total: 100, accuracy: 0.37 },
          { correct: 0, total: 0, accuracy: 0.25 },
        ],
        classNames: ['airplane', 'automobile'],
        testId: 'probe-per-class',
      }),
    );
    const cells = [...html.matchAll(/<td>([^<]*)</g)].map((m) => m[1]);
    expect(cells[0]).toBe('37 / 100');
    expect(cells[2]).toBe('–');
    expect(html).toContain('25%');
    expect(html).not.toContain('0 / 0');
  });
});

describe('where a classroom recording was made', () => {
  it('says that the shipped test fixture ran on the CPU, naming it', () => {
    const { made } = decodeRecording(new Uint8Array(readFileSync(`${REPO_ROOT}/tests/fixtures/replay-tiny.zip`)), 'replay-tiny.zip').manifest;
    expect(made.backend).toMatch(/WebAssembly/);
    expect(recordedWithoutGpu(made)).toBe(`the CPU, ${made.device}`);
  });

  it('takes WebGPU on a real adapter for a GPU, and on SwiftShader for a software renderer', () => {
    // The backend line the headless trainer writes (src/util/nodeWebgpu.ts), less its "backend: ".
    expect(recordedWithoutGpu({ device: 'NVIDIA H200 (nvidia hopper)', backend: 'WebGPU (Dawn) on nvidia hopper (--backend auto; --backend wasm or cpu for the processor)' })).toBeNull();
    expect(recordedWithoutGpu({ device: 'google swiftshader', backend: 'WebGPU (Dawn) on google swiftshader (--backend auto; --backend wasm or cpu for the processor)' })).toBe('a software renderer, google swiftshader');
    expect(recordedWithoutGpu({ device: 'AMD EPYC (2 cores)', backend: "tfjs's JavaScript CPU backend, as asked" })).toBe('the CPU, AMD EPYC (2 cores)');
  });
});

describe('a saved run renamed in its list', () => {
  it('keeps a name typed or pasted over several lines as one line, whole up to 80 characters', () => {
    expect(cleanRunName('  m = 0.99,\n  K = 4096 \r\n')).toBe('m = 0.99, K = 4096');
    expect(cleanRunName('tiny on CIFAR-10 sample (train)')).toBe('tiny on CIFAR-10 sample (train)');
    const long = `${'resnet8 on cifar-10-binary.tar.gz '.repeat(3)}end`;
    expect(cleanRunName(long)).toBe(long.slice(0, 80).trim());
    expect(cleanRunName('  \n ')).toBeNull();
  });
});

describe('the header on a machine without WebGPU (a classroom laptop on a projector)', () => {
  it('says in plain words what the fallback means, with the technical reason behind “why?”', () => {
    const fallbackReason = 'WebGPU unavailable: no adapter (navigator.gpu.requestAdapter() returned null)';
    const html = renderToStaticMarkup(createElement(BackendBadge, { backend: { backend: 'webgl', fallbackReason, adapter: null }, phase: 'ready' }));
    const summary = /<summary[^>]*>([^<]*)<\/summary>/.exec(html)?.[1];
    expect(summary).toBe('No WebGPU here: training runs on WebGL, more slowly · why?');
    // The reason is there for whoever opens it, not on the header itself.
    expect(html).toMatch(/<details[^>]*>.*navigator\.gpu\.requestAdapter\(\) returned null.*<\/details>/);
    expect(html).not.toMatch(/<details[^>]*open/);
  });

  it('names an order set in the address as such, not as a missing GPU', () => {
    const html = renderToStaticMarkup(createElement(BackendBadge, { backend: { backend: 'cpu', fallbackReason: 'WebGPU not tried: backend order set to cpu', adapter: null }, phase: 'ready' }));
    expect(html).toContain('WebGPU not tried (backend set in the address) · why?');
  });
});
