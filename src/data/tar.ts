import { DatasetError, formatCount } from './errors';
import { formatBytes, MAX_TAR_METADATA_BYTES } from './limits';

/**
 * A streaming tar reader: bytes go in as chunks of any size, each member's data comes out as
 * views of those chunks. It exists because nanotar (like most small tar libraries for the browser)
 * parses a whole in-memory archive, which for CIFAR-10 would mean holding the 180 MB tar beside the
 * decoded images; reading header by header keeps only one 512-byte block of state.
 *
 * It understands what real archives of CIFAR hold: ustar and old-GNU headers, GNU long names
 * (type L) and POSIX pax headers (path and size), and the base-256 sizes GNU tar writes past 8 GiB.
 */

const BLOCK = 512;

export interface TarMember {
  /** The member's path inside the archive, as stored (e.g. `cifar-10-batches-bin/data_batch_1.bin`). */
  path: string;
  size: number;
  kind: 'file' | 'directory' | 'other';
}

/**
 * Called at each member; returns where its data should go (called with successive pieces, which are
 * views valid only during the call), or undefined to skip the member.
 */
export type TarMemberHandler = (member: TarMember) => ((piece: Uint8Array) => void) | undefined;

type State =
  | { at: 'header' }
  | { at: 'data'; member: TarMember; left: number; sink?: (piece: Uint8Array) => void; keep?: Uint8Array; kept: number; padding: number }
  | { at: 'padding'; left: number }
  | { at: 'end' };

export class TarStreamReader {
  private state: State = { at: 'header' };
  private readonly header = new Uint8Array(BLOCK);
  private headerBytes = 0;
  private membersSeen = 0;
  /** Set by a GNU long-name or pax header, for the member that follows it. */
  private nextPath?: string;
  private nextSize?: number;
  private bytesIn = 0;

  constructor(
    private readonly fileName: string,
    private readonly onMember: TarMemberHandler,
  ) {}

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const state = this.state;
      if (state.at === 'end') return; // whatever follows the end-of-archive blocks (zero padding) does not matter
      if (state.at === 'header') {
        const take = Math.min(BLOCK - this.headerBytes, chunk.length - offset);
        this.header.set(chunk.subarray(offset, offset + take), this.headerBytes);
        this.headerBytes += take;
        offset += take;
        if (this.headerBytes === BLOCK) {
          this.headerBytes = 0;
          this.readHeader();
        }
      } else if (state.at === 'data') {
        const take = Math.min(state.left, chunk.length - offset);
        const piece = chunk.subarray(offset, offset + take);
        if (state.keep) {
          state.keep.set(piece, state.kept);
          state.kept += take;
        } else {
          state.sink?.(piece);
        }
        state.left -= take;
        offset += take;
        if (state.left === 0) this.endMemberData(state);
      } else {
        const take = Math.min(state.left, chunk.length - offset);
        state.left -= take;
        offset += take;
        if (state.left === 0) this.state = { at: 'header' };
      }
    }
    this.bytesIn += chunk.length;
  }

  /** Call once the input has ended: an archive cut inside a member is an error. */
  finish(): void {
    const state = this.state;
    if (state.at === 'data') {
      const got = state.member.size - state.left;
      throw new DatasetError(
        this.fileName,
        `the archive ends inside ${state.member.path} (${formatCount(got)} of ${formatCount(state.member.size)} bytes): the file is truncated`,
      );
    }
    if (this.membersSeen === 0 && this.state.at !== 'end') {
      throw new DatasetError(this.fileName, this.bytesIn === 0 ? 'the archive is empty' : 'not a tar archive (it ends before the first header)');
    }
    // Ending between members without the two zero blocks still leaves every member whole; GNU tar
    // reads such archives with a warning, and so do we (silently).
  }

  private readHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      if (this.membersSeen === 0) throw new DatasetError(this.fileName, 'not a tar archive (it starts with an empty block)');
      this.state = { at: 'end' };
      return;
    }
    const stored = parseOctal(h, 148, 8);
    let unsigned = 0;
    for (let i = 0; i < BLOCK; i++) unsigned += i >= 148 && i < 156 ? 0x20 : h[i];
    if (stored === undefined || stored !== unsigned) {
      throw new DatasetError(
        this.fileName,
        this.membersSeen === 0 ? 'not a tar archive (the first header is not a valid tar header)' : `corrupt tar header after ${formatCount(this.membersSeen)} members`,
      );
    }
    this.membersSeen++;
    const type = String.fromCharCode(h[156] || 0x30);
    const size = this.nextSize ?? parseSize(h);
    if (size === undefined) throw new DatasetError(this.fileName, 'corrupt tar header (unreadable member size)');
    if (!Number.isSafeInteger(size)) {
      throw new DatasetError(this.fileName, `corrupt tar header: a member declares ${formatBytes(size)}, more than any file can hold`);
    }
    const isUstar = text(h, 257, 5) === 'ustar';
    const prefix = isUstar ? text(h, 345, 155) : '';
    const path = this.nextPath ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100));
    const member: TarMember = { path, size, kind: type === '0' || type === '7' ? 'file' : type === '5' ? 'directory' : 'other' };
    this.nextPath = undefined;
    this.nextSize = undefined;

    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'L' || type === 'x') {
      // Metadata for the next member: kept whole (names and pax records are small).
      if (size > MAX_TAR_METADATA_BYTES) {
        throw new DatasetError(
          this.fileName,
          `corrupt tar header: a ${type === 'L' ? 'long-name' : 'pax'} header declares ${formatCount(size)} bytes (at most ${formatBytes(MAX_TAR_METADATA_BYTES)} is read)`,
        );
      }
      this.state = { at: 'data', member: { ...member, kind: 'other' }, left: size, keep: new Uint8Array(size), kept: 0, padding };
    } else {
      const sink = member.kind === 'file' ? this.onMember(member) : undefined;
      this.state = { at: 'data', member, left: size, sink, kept: 0, padding };
    }
    if (size === 0) this.endMemberData(this.state as Extract<State, { at: 'data' }>);
  }

  private endMemberData(state: Extract<State, { at: 'data' }>): void {
    if (state.keep) {
      const type = String.fromCharCode(this.header[156]);
      if (type === 'L') {
        this.nextPath = new TextDecoder().decode(state.keep).replace(/\0.*$/s, '');
      } else {
        const pax = parsePax(state.keep);
        if (pax.path !== undefined) this.nextPath = pax.path;
        if (pax.size !== undefined) this.nextSize = pax.size;
      }
    }
    this.state = state.padding > 0 ? { at: 'padding', left: state.padding } : { at: 'header' };
  }
}

function text(h: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && h[end] !== 0) end++;
  return new TextDecoder().decode(h.subarray(start, end));
}

function parseOctal(h: Uint8Array, start: number, length: number): number | undefined {
  const s = text(h, start, length).trim();
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

/** Octal, or GNU's base-256 (high bit of the first byte set) for sizes that do not fit 11 octal digits. */
function parseSize(h: Uint8Array): number | undefined {
  if (h[124] & 0x80) {
    let n = h[124] & 0x7f;
    for (let i = 125; i < 136; i++) n = n * 256 + h[i];
    return n;
  }
  return parseOctal(h, 124, 12);
}

/** POSIX pax extended header: records of the form "LENGTH key=value\n". */
function parsePax(bytes: Uint8Array): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  const decoded = new TextDecoder().decode(bytes);
  for (const record of decoded.split('\n')) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(record);
    if (!match) continue;
    if (match[1] === 'path') out.path = match[2];
    // An unsafe integer is passed on, for the header check to refuse with the rest.
    if (match[1] === 'size' && /^\d+$/.test(match[2])) out.size = Number(match[2]);
  }
  return out;
}
