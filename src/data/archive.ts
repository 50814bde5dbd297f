import { Gunzip } from 'fflate';
import {
  baseName,
  cifarClassNames,
  CifarRecordDecoder,
  formatLabel,
  parseClassNameFile,
  type Cifar100Labels,
  type CifarFormat,
} from './cifar';
import { IMAGE_BYTES, type ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { TarStreamReader, type TarMember } from './tar';

/**
 * The official `cifar-10-binary.tar.gz` and `cifar-100-binary.tar.gz` (or the same tars
 * uncompressed), read as a stream: gunzip (fflate) → tar (TarStreamReader) → record decoding,
 * chunk by chunk, so memory holds the decoded images and little else. Runs the same in Node and
 * in a Web Worker (no DOM, no Node modules).
 */

export interface ArchiveProgress {
  /** Bytes of the archive file consumed so far (compressed bytes for a .tar.gz). */
  bytesRead: number;
  /** The archive's size, when the caller gave it. */
  totalBytes?: number;
}

export interface CifarArchiveOptions {
  /** Named in error messages and the datasets' names. */
  fileName: string;
  /** For CIFAR-100: which label to keep (default fine). */
  labels?: Cifar100Labels;
  /** The file's size, passed through to `onProgress`. */
  totalBytes?: number;
  onProgress?: (progress: ArchiveProgress) => void;
}

export interface CifarArchive {
  format: CifarFormat;
  /** data_batch_1..5.bin (CIFAR-10) or train.bin (CIFAR-100), when present. */
  train?: ImageDataset;
  /** test_batch.bin (CIFAR-10) or test.bin (CIFAR-100), when present. */
  test?: ImageDataset;
  classNames: readonly string[];
}

type Role = { format: CifarFormat; split: 'train' | 'test'; order: number } | { format: CifarFormat; names: 'cifar10' | 'coarse' | 'fine' };

/** What a member is, from its base name; undefined for members we do not need (readme.html, directories). */
function memberRole(path: string): Role | undefined {
  const name = baseName(path);
  const batch = /^data_batch_(\d+)\.bin$/.exec(name);
  if (batch) return { format: 'cifar10', split: 'train', order: Number(batch[1]) };
  if (name === 'test_batch.bin') return { format: 'cifar10', split: 'test', order: 0 };
  if (name === 'train.bin') return { format: 'cifar100', split: 'train', order: 0 };
  if (name === 'test.bin') return { format: 'cifar100', split: 'test', order: 0 };
  if (name === 'batches.meta.txt') return { format: 'cifar10', names: 'cifar10' };
  if (name === 'coarse_label_names.txt') return { format: 'cifar100', names: 'coarse' };
  if (name === 'fine_label_names.txt') return { format: 'cifar100', names: 'fine' };
  return undefined;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Push the archive's bytes as they arrive, then call `finish()`. Any problem throws DatasetError
 * (naming the archive, and the member where there is one) and yields no dataset.
 */
export class CifarArchiveReader {
  private readonly tar: TarStreamReader;
  private gunzip?: Gunzip;
  /** Undecided until the first two bytes: gzip, or a plain tar. */
  private compressed?: boolean;
  private readonly heldBack: Uint8Array[] = [];
  private bytesRead = 0;
  private readonly parts: { role: Extract<Role, { split: unknown }>; decoder: CifarRecordDecoder }[] = [];
  private readonly nameFiles = new Map<'cifar10' | 'coarse' | 'fine', string>();
  private format?: CifarFormat;
  private readonly trailer = new Uint8Array(8);
  private inflatedBytes = 0;
  private crc = 0;

  constructor(private readonly options: CifarArchiveOptions) {
    this.tar = new TarStreamReader(options.fileName, (member) => this.onMember(member));
  }

  push(chunk: Uint8Array): void {
    this.bytesRead += chunk.length;
    if (this.compressed === undefined) {
      // The first chunk of a stream can in principle be a single byte: hold chunks back until two bytes tell gzip from tar.
      this.heldBack.push(chunk.slice());
      const held = concat(this.heldBack, this.heldBack.reduce((n, c) => n + c.length, 0));
      if (held.length < 2) return;
      this.compressed = isGzip(held);
      if (this.compressed) {
        this.gunzip = new Gunzip((data) => {
          this.inflatedBytes += data.length;
          this.crc = crc32(data, this.crc);
          this.tar.push(data);
        });
      }
      this.heldBack.length = 0;
      this.feed(held, false);
    } else {
      this.feed(chunk, false);
    }
    this.options.onProgress?.({ bytesRead: this.bytesRead, totalBytes: this.options.totalBytes });
  }

  finish(): CifarArchive {
    const { fileName } = this.options;
    if (this.compressed === undefined) {
      throw new DatasetError(fileName, this.bytesRead === 0 ? 'the file is empty' : 'not a gzip file or a tar archive (too short)');
    }
    this.feed(new Uint8Array(0), true);
    this.tar.finish();
    for (const part of this.parts) part.decoder.finish();
    const format = this.format;
    if (!format || this.parts.length === 0) {
      throw new DatasetError(
        fileName,
        'holds no CIFAR data: expected data_batch_1.bin … data_batch_5.bin and test_batch.bin (cifar-10-binary.tar.gz) or train.bin and test.bin (cifar-100-binary.tar.gz)',
      );
    }
    const labels = this.options.labels ?? 'fine';
    const nameKey = format === 'cifar10' ? 'cifar10' : labels;
    const classNames = this.classNamesFrom(nameKey, cifarClassNames(format, labels));
    const assemble = (split: 'train' | 'test'): ImageDataset | undefined => {
      const parts = this.parts.filter((p) => p.role.split === split).sort((a, b) => a.role.order - b.role.order);
      if (parts.length === 0) return undefined;
      const decoded = parts.map((p) => p.decoder.finish());
      const size = decoded.reduce((n, d) => n + d.labels.length, 0);
      // One member (CIFAR-100, or the test batch) is used as it is; five train batches are joined.
      const images = decoded.length === 1 ? decoded[0].images : concat(decoded.map((d) => d.images), size * IMAGE_BYTES);
      const labelArray = decoded.length === 1 ? decoded[0].labels : concat(decoded.map((d) => d.labels), size);
      return { name: `${baseName(fileName)} (${split})`, images, labels: labelArray, classNames, size };
    };
    return { format, train: assemble('train'), test: assemble('test'), classNames };
  }

  private feed(bytes: Uint8Array, final: boolean): void {
    if (!this.compressed) {
      this.tar.push(bytes);
      return;
    }
    this.keepTrailer(bytes);
    try {
      this.gunzip!.push(bytes, final);
      if (final) this.checkTrailer();
    } catch (e) {
      if (e instanceof DatasetError) throw e;
      // fflate's own errors: code 0 is "unexpected EOF", the rest are corrupt data.
      const code = (e as { code?: number }).code;
      throw new DatasetError(
        this.options.fileName,
        code === 0 ? 'the gzip stream ends early: the file is truncated' : `not a valid gzip file (${(e as Error).message})`,
      );
    }
  }

  /** The last 8 bytes seen: at the end, gzip's trailer (CRC-32 and size of the uncompressed data). */
  private keepTrailer(bytes: Uint8Array): void {
    if (bytes.length >= 8) {
      this.trailer.set(bytes.subarray(bytes.length - 8));
    } else if (bytes.length > 0) {
      this.trailer.copyWithin(0, bytes.length);
      this.trailer.set(bytes, 8 - bytes.length);
    }
  }

  /**
   * fflate reports a stream cut inside the compressed data, but not one cut inside the trailer or
   * right after the header, and it does not check the CRC: both are checked here, so a truncated or
   * damaged download never passes for a smaller dataset. (CIFAR's archives are single-member gzip.)
   */
  private checkTrailer(): void {
    const view = new DataView(this.trailer.buffer);
    const storedCrc = view.getUint32(0, true);
    const storedSize = view.getUint32(4, true);
    if (this.bytesRead < 18 || storedSize !== this.inflatedBytes % 2 ** 32) {
      throw new DatasetError(this.options.fileName, 'the gzip stream ends early: the file is truncated');
    }
    if (storedCrc !== this.crc) throw new DatasetError(this.options.fileName, 'the gzip checksum does not match: the file is damaged');
  }

  private onMember(member: TarMember): ((piece: Uint8Array) => void) | undefined {
    const role = memberRole(member.path);
    if (!role) return undefined;
    const where = `${this.options.fileName} (${member.path})`;
    if (this.format && this.format !== role.format) {
      throw new DatasetError(this.options.fileName, `mixes CIFAR-10 and CIFAR-100 members (${member.path} is ${formatLabel(role.format)})`);
    }
    this.format = role.format;
    if ('names' in role) {
      const pieces: Uint8Array[] = [];
      // Copies: the pieces are views of gunzip's buffers, valid only during the call.
      return (piece) => {
        pieces.push(piece.slice());
        if (pieces.reduce((n, p) => n + p.length, 0) === member.size) {
          this.nameFiles.set(role.names, new TextDecoder().decode(concat(pieces, member.size)));
        }
      };
    }
    const decoder = new CifarRecordDecoder(role.format, this.options.labels ?? 'fine', member.size, where);
    this.parts.push({ role, decoder });
    return (piece) => decoder.push(piece);
  }

  /** The archive's own name file when it has one name per class, else the built-in names. */
  private classNamesFrom(key: 'cifar10' | 'coarse' | 'fine', builtIn: readonly string[]): readonly string[] {
    const text = this.nameFiles.get(key);
    if (text === undefined) return builtIn;
    const names = parseClassNameFile(text);
    return names.length === builtIn.length ? names : builtIn;
  }
}

/** Something that yields the archive's bytes: a web ReadableStream (File.stream()), a Node stream, a generator. */
export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** Reads a whole archive from a stream (e.g. `file.stream()` in a Worker, `createReadStream` in Node). */
export async function readCifarArchive(source: ByteSource, options: CifarArchiveOptions): Promise<CifarArchive> {
  const reader = new CifarArchiveReader(options);
  if ('getReader' in source) {
    // getReader() rather than for-await: Safari's ReadableStream is not async-iterable.
    const streamReader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await streamReader.read();
        if (done) break;
        reader.push(value);
      }
    } finally {
      streamReader.releaseLock();
    }
  } else {
    for await (const chunk of source) reader.push(chunk);
  }
  return reader.finish();
}

/** Whether bytes look like a gzip file (its first two bytes). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as gzip uses), continued from `crc` over `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
