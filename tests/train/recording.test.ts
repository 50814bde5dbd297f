/**
 * The classroom recording's format (src/train/recording.ts): what the writer puts in comes back
 * from the reader (real numbers of a recorded run, NaN kept), and a damaged or foreign file is
 * refused with its name. The fixture is a real recording of the headless trainer (README: how it
 * was made).
 */
import { readFileSync } from 'node:fs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_MANIFEST } from '../../src/train/checkpoint';
import { decodeRecording, encodeRecording, parseRecordingIndex, RECORDED_FIELDS, RECORDING_CHECKPOINT, RECORDING_MANIFEST, RecordingError, type RecordedStep, type RecordingContent } from '../../src/train/recording';
import { REPO_ROOT } from '../support/helpers';

const FIXTURE = `${REPO_ROOT}/tests/fixtures/replay-tiny.zip`;

/** The content of a decoded recording, as the writer takes it. */
function contentOf(bytes: Uint8Array): { content: RecordingContent; checkpoint: Uint8Array; step: number } {
  const r = decodeRecording(bytes, 'fixture');
  const { format: _f, version: _v, steps, checkpoint, ...rest } = r.manifest;
  const records: RecordedStep[] = Array.from({ length: steps.count }, (_, i) => Object.fromEntries(RECORDED_FIELDS.map((f) => [f, r.columns[f][i]])) as RecordedStep);
  return { content: { ...rest, steps: records }, checkpoint: r.checkpoint, step: checkpoint.step };
}

describe('classroom recordings', () => {
  it('reads the recorded run back: every step, kNN and probe result, the final checkpoint', () => {
    const r = decodeRecording(new Uint8Array(readFileSync(FIXTURE)), 'replay-tiny.zip');
    const m = r.manifest;
    expect(m.setup.preset).toBe('tiny');
    expect(m.setup.dataset.name).toBe('CIFAR-10 sample (train)');
    expect(m.steps.count).toBe(12);
    expect(Array.from(r.columns.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // The queue (K 64) fills by one batch of 8 a step; the negatives are the fill before the step.
    expect(Array.from(r.columns.queueFilled.subarray(0, 9))).toEqual([8, 16, 24, 32, 40, 48, 56, 64, 64]);
    expect(Array.from(r.columns.negatives.subarray(0, 3))).toEqual([0, 8, 16]);
    for (let i = 1; i < 12; i++) expect(r.columns.elapsedMs[i]).toBeGreaterThan(r.columns.elapsedMs[i - 1]);
    expect(m.knn.map((k) => k.step)).toEqual([0, 4, 8, 12]);
    expect(m.probes.map((p) => p.step)).toEqual([0, 4, 8, 12]);
    for (const k of m.knn) expect(k.accuracy).toBeGreaterThan(0.1);
    // Each evaluation is timed after the steps before it.
    expect(m.knn[1].elapsedMs).toBeGreaterThan(r.columns.elapsedMs[3]);
    expect(m.knn[1].elapsedMs).toBeLessThan(r.columns.elapsedMs[4]);
    const checkpoint = JSON.parse(strFromU8(unzipSync(r.checkpoint)[CHECKPOINT_MANIFEST])) as { step: number; history: { chart: unknown[]; knn: { accuracy: number }[] } };
    expect(checkpoint.step).toBe(12);
    // The checkpoint carries the charts and the kNN history, as the app's saves do.
    expect(checkpoint.history.chart).toHaveLength(12);
    expect(checkpoint.history.knn.at(-1)!.accuracy).toBe(m.knn.at(-1)!.accuracy);
    expect(m.checkpoint).toEqual({ step: 12, bytes: r.checkpoint.byteLength });
  });

  it('round-trips: the same numbers out as in, NaN included', () => {
    const { content, checkpoint, step } = contentOf(new Uint8Array(readFileSync(FIXTURE)));
    const steps = [...content.steps];
    steps[2] = { ...steps[2], keyConsistency: Number.NaN, loss: 5.123456789012345 };
    content.steps = steps;
    const again = decodeRecording(encodeRecording(content, checkpoint, step), 'again.zip');
    for (const f of RECORDED_FIELDS) expect(Array.from(again.columns[f])).toEqual(content.steps.map((s) => s[f]));
    expect(again.columns.keyConsistency[2]).toBeNaN();
    expect(again.columns.loss[2]).toBe(5.123456789012345);
    expect(again.manifest.knn).toEqual(content.knn);
    expect(again.manifest.probes).toEqual(content.probes);
    expect(again.manifest.made).toEqual(content.made);
    expect(again.checkpoint).toEqual(checkpoint);
  });

  it('refuses a damaged or foreign file, naming it', () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const refused = (b: Uint8Array) => {
      try {
        decodeRecording(b, 'class.zip');
      } catch (e) {
        expect(e).toBeInstanceOf(RecordingError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused(bytes.subarray(0, bytes.length / 2))).toMatch(/^class\.zip: not a readable recording: the zip is truncated or damaged/);
    expect(refused(zipSync({ [CHECKPOINT_MANIFEST]: strToU8('{}') }))).toBe(
      'class.zip: not a recording but a saved run (a checkpoint): open it with Saved runs’ Open run… (the headless trainer: --resume)',
    );
    expect(refused(zipSync({ 'model.json': strToU8('{}'), 'model.safetensors': new Uint8Array(8), 'metadata.json': strToU8('{}') }))).toBe(
      'class.zip: not a recording but trained weights (a Download weights zip): load them with Load weights… (the headless trainer: --init)',
    );
    const entries = unzipSync(bytes);
    const manifest = JSON.parse(strFromU8(entries[RECORDING_MANIFEST]));
    const with_ = (m: object, checkpoint = entries[RECORDING_CHECKPOINT]) => zipSync({ [RECORDING_MANIFEST]: strToU8(JSON.stringify(m)), [RECORDING_CHECKPOINT]: checkpoint });
    expect(refused(with_({ ...manifest, version: 2 }))).toBe('class.zip: recording format version 2; this app reads version 1 only');
    const swapped = { ...manifest.steps.columns, step: [...manifest.steps.columns.step].reverse() };
    expect(refused(with_({ ...manifest, steps: { ...manifest.steps, columns: swapped } }))).toMatch(/its steps are out of order/);
    expect(refused(with_(manifest, entries[RECORDING_CHECKPOINT].subarray(10)))).toMatch(/its final model \(checkpoint\.zip\) is damaged/);
  });

  it('lists the shipped recordings of an index; no index or a web page lists none', () => {
    expect(parseRecordingIndex('{"recordings":[{"file":"a.zip","title":"A"},{"title":"no file"}]}')).toEqual([{ file: 'a.zip', title: 'A' }]);
    expect(parseRecordingIndex('<!doctype html><html>')).toEqual([]);
    expect(parseRecordingIndex('{"recordings":[]}')).toEqual([]);
  });
});
