import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../../src/io/safetensors';

describe('safetensors writer and reader', () => {
  it('writes the documented layout: 8-byte header length, JSON header aligned to 8, little-endian float32', () => {
    const tensors = new Map([
      ['a.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6]) }],
      ['a.bias', { shape: [2], data: Float32Array.from([0.25, -0.125]) }],
    ]);
    const bytes = writeSafetensors(tensors, { preset: 'tiny' });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({
      __metadata__: { preset: 'tiny' },
      'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      'a.bias': { dtype: 'F32', shape: [2], data_offsets: [24, 32] },
    });
    expect(bytes.length).toBe(8 + n + 32);
    expect(view.getFloat32(8 + n + 8, true)).toBe(3.5);
    expect(view.getFloat32(8 + n + 28, true)).toBe(-0.125);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ preset: 'tiny' });
    expect([...back.tensors.keys()]).toEqual(['a.weight', 'a.bias']);
    expect(Array.from(back.tensors.get('a.weight')!.data)).toEqual([1, -2, 3.5, 4, 5, 6]);
  });

  it('reads the integer and half-precision tensors PyTorch may write (num_batches_tracked is int64)', () => {
    const header = JSON.stringify({
      n: { dtype: 'I64', shape: [], data_offsets: [0, 8] },
      h: { dtype: 'F16', shape: [2], data_offsets: [8, 12] },
      b: { dtype: 'BF16', shape: [1], data_offsets: [12, 14] },
    });
    const hb = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + hb.length + 14);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(hb.length), true);
    bytes.set(hb, 8);
    const at = 8 + hb.length;
    view.setBigInt64(at, 42n, true);
    view.setUint16(at + 8, 0x3c00, true); // 1.0
    view.setUint16(at + 10, 0xc000, true); // -2.0
    view.setUint16(at + 12, 0x3fc0, true); // bfloat16 1.5
    const t = readSafetensors(bytes).tensors;
    expect(Array.from(t.get('n')!.data)).toEqual([42]);
    expect(Array.from(t.get('h')!.data)).toEqual([1, -2]);
    expect(Array.from(t.get('b')!.data)).toEqual([1.5]);
  });

  it('refuses a file that is not safetensors, or a truncated one, with a message saying so', () => {
    expect(() => readSafetensors(new Uint8Array([1, 2, 3]))).toThrow(/too short/);
    expect(() => readSafetensors(new TextEncoder().encode('{"modelTopology": 1}'))).toThrow(SafetensorsError);
    const good = writeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
    expect(() => readSafetensors(good.subarray(0, good.length - 4))).toThrow(/truncated/);
  });
});
