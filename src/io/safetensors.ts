/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`,
 * then the tensors' raw little-endian bytes. Small enough to write ourselves (no maintained npm
 * package exists); we write float32 and read float32, float64, float16, bfloat16 and the integer
 * types PyTorch puts in a state_dict (e.g. batch-norm's `num_batches_tracked`, int64).
 */

export interface NamedTensor {
  shape: number[];
  /** Values converted to float32 (integer tensors too: they are counters, not weights). */
  data: Float32Array;
  /** The dtype as stored in the file. */
  dtype: string;
}

export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {}

/** Serialises float32 tensors (in the map's order) and string metadata to one safetensors buffer. */
export function writeSafetensors(tensors: Map<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor ${name}: shape [${t.shape}] holds ${count} values, got ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  // The header is padded with spaces to a multiple of 8 so that the tensors are aligned.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Parses a safetensors buffer; throws SafetensorsError saying what is wrong with it. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsError(`is ${bytes.length} bytes long, too short for a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw new SafetensorsError('is not a safetensors file (its header length runs past the end of the file)');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch {
    throw new SafetensorsError('is not a safetensors file (its header is not JSON)');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = DTYPE_BYTES[dtype];
    if (!size) throw new SafetensorsError(`tensor ${name} has dtype ${dtype}, which this reader does not know`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * size || dataStart + offsets[1] > bytes.length)
      throw new SafetensorsError(`tensor ${name} does not fit its byte range (the file is truncated or damaged)`);
    tensors.set(name, { shape, dtype, data: decode(view, dataStart + offsets[0], count, dtype) });
  }
  return { tensors, metadata };
}

function decode(view: DataView, at: number, count: number, dtype: string): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F64': out[i] = view.getFloat64(at + 8 * i, true); break;
      case 'F32': out[i] = view.getFloat32(at + 4 * i, true); break;
      case 'F16': out[i] = half(view.getUint16(at + 2 * i, true)); break;
      case 'BF16': out[i] = new Float32Array(new Uint32Array([view.getUint16(at + 2 * i, true) << 16]).buffer)[0]; break;
      case 'I64': out[i] = Number(view.getBigInt64(at + 8 * i, true)); break;
      case 'I32': out[i] = view.getInt32(at + 4 * i, true); break;
      case 'I16': out[i] = view.getInt16(at + 2 * i, true); break;
      case 'I8': out[i] = view.getInt8(at + i); break;
      default: out[i] = view.getUint8(at + i);
    }
  }
  return out;
}

function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
