import {
  baseName,
  cifarClassNames,
  CifarRecordDecoder,
  cifarRecordCount,
  formatLabel,
  parseClassNameFile,
  type Cifar100Labels,
  type CifarFormat,
} from './cifar';
import { IMAGE_BYTES, type ImageDataset } from './dataset';
import { DatasetError, formatCount } from './errors';
import { formatBytes, MAX_DATASET_DECODED, MAX_DATASET_IMAGES, MAX_TAR_METADATA_BYTES } from './limits';
import { TarStreamReader, type TarMember } from './tar';

/**
 * The official `cifar-10-binary.tar.gz` and `cifar-100-binary.tar.gz` (or the same tars
 * uncompressed), read as a stream: gunzip (DecompressionStream) → tar (TarStreamReader) → record decoding,
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
 * The tar stage: push the tar's bytes as they arrive, then call `finish()`. Any problem throws
 * DatasetError (naming the archive, and the member where there is one) and yields no dataset.
 * `readCifarArchive` puts gunzip in front of it.
 */
export class CifarArchiveReader {
  private readonly tar: TarStreamReader;
  private readonly parts: { role: Extract<Role, { split: unknown }>; decoder: CifarRecordDecoder }[] = [];
  private readonly nameFiles = new Map<'cifar10' | 'coarse' | 'fine', string>();
  private format?: CifarFormat;

  constructor(private readonly options: CifarArchiveOptions) {
    this.tar = new TarStreamReader(options.fileName, (member) => this.onMember(member));
  }

  push(tarBytes: Uint8Array): void {
    this.tar.push(tarBytes);
  }

  finish(): CifarArchive {
    const { fileName } = this.options;
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

  private onMember(member: TarMember): ((piece: Uint8Array) => void) | undefined {
    const role = memberRole(member.path);
    if (!role) return undefined;
    const where = `${this.options.fileName} (${member.path})`;
    if (this.format && this.format !== role.format) {
      throw new DatasetError(this.options.fileName, `mixes CIFAR-10 and CIFAR-100 members (${member.path} is ${formatLabel(role.format)})`);
    }
    this.format = role.format;
    if ('names' in role) {
      if (member.size > MAX_TAR_METADATA_BYTES) {
        throw new DatasetError(where, `a class-name file of ${formatBytes(member.size)} (at most ${formatBytes(MAX_TAR_METADATA_BYTES)} is read): the archive is damaged`);
      }
      const pieces: Uint8Array[] = [];
      // Copies: the pieces are views of gunzip's buffers, valid only during the call.
      return (piece) => {
        pieces.push(piece.slice());
        if (pieces.reduce((n, p) => n + p.length, 0) === member.size) {
          this.nameFiles.set(role.names, new TextDecoder().decode(concat(pieces, member.size)));
        }
      };
    }
    // Counted before the decoder allocates its images: five members of a split are joined at the end.
    const records = cifarRecordCount(role.format, member.size, where);
    const images = this.parts.filter((p) => p.role.split === role.split).reduce((n, p) => n + p.decoder.records, records);
    if (images > MAX_DATASET_IMAGES) {
      throw new DatasetError(
        this.options.fileName,
        `its ${role.split === 'train' ? 'training' : 'test'} members hold ${formatCount(images)} images: at most ${formatCount(MAX_DATASET_IMAGES)} (${MAX_DATASET_DECODED} decoded) are read`,
      );
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

/**
 * Reads a whole archive from a stream (e.g. `file.stream()` in a Worker, `createReadStream` in
 * Node). A gzip stream goes through the platform's `DecompressionStream` (browsers, Node ≥ 18),
 * which also checks gzip's trailer: a truncated or damaged download never passes for a smaller
 * dataset. Chunks are pulled one at a time, so memory holds the decoded images and little else.
 */
export async function readCifarArchive(source: ByteSource, options: CifarArchiveOptions): Promise<CifarArchive> {
  const { fileName } = options;
  const reader = new CifarArchiveReader(options);
  let bytesRead = 0;
  const chunks = iterate(source);
  // The first chunk of a stream can in principle be a single byte: gather two to tell gzip from tar.
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  while (heldBytes < 2) {
    const next = await chunks.next();
    if (next.done) break;
    held.push(next.value);
    heldBytes += next.value.length;
  }
  if (heldBytes < 2) throw new DatasetError(fileName, heldBytes === 0 ? 'the file is empty' : 'not a gzip file or a tar archive (too short)');
  const head = concat(held, heldBytes);
  const counted = countedStream(head, chunks, (n) => {
    bytesRead += n;
    options.onProgress?.({ bytesRead, totalBytes: options.totalBytes });
  });
  const tarBytes = (isGzip(head) ? counted.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>) : counted).getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await tarBytes.read();
      } catch (e) {
        throw gzipError(fileName, e);
      }
      if (next.done) break;
      reader.push(next.value);
    }
  } catch (e) {
    await tarBytes.cancel().catch(() => undefined);
    throw e;
  }
  return reader.finish();
}

/**
 * DecompressionStream's errors as messages: Node's carry zlib's codes (Z_BUF_ERROR: the input ended
 * early; Z_DATA_ERROR: corrupt data or a wrong checksum), browsers' are TypeErrors with a sentence.
 * Anything else (the file could not be read) passes through.
 */
export function gzipError(fileName: string, e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  const message = (e as Error).message ?? String(e);
  if (!(e instanceof TypeError) && !(typeof code === 'string' && code.startsWith('Z_'))) return e;
  if (code === 'Z_BUF_ERROR' || /unexpected end|truncated/i.test(message)) return new DatasetError(fileName, 'the gzip stream ends early: the file is truncated');
  if (/data check|checksum|crc/i.test(message)) return new DatasetError(fileName, 'the gzip checksum does not match: the file is damaged');
  return new DatasetError(fileName, `not a valid gzip file (${message})`);
}

/** The chunks of a web ReadableStream (read with getReader: Safari's is not async-iterable) or of an async iterable. */
async function* iterate(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (!('getReader' in source)) {
    yield* source;
    return;
  }
  const streamReader = source.getReader();
  try {
    for (;;) {
      const { done, value } = await streamReader.read();
      if (done) return;
      yield value;
    }
  } finally {
    streamReader.releaseLock();
  }
}

/** `first`, then the rest of the chunks, as a pull-based web stream that reports each chunk's size as it is taken. */
function countedStream(first: Uint8Array, rest: AsyncGenerator<Uint8Array>, onChunk: (bytes: number) => void): ReadableStream<Uint8Array> {
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = started ? await rest.next() : { done: false as const, value: first };
      started = true;
      if (chunk.done) {
        controller.close();
        return;
      }
      onChunk(chunk.value.length);
      controller.enqueue(chunk.value);
    },
    async cancel() {
      await rest.return(undefined);
    },
  });
}

/** Whether bytes look like a gzip file (its first two bytes). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
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
