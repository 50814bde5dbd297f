/**
 * The first `length` bytes of a user's file (a File from a picker or a drop), to tell its kind
 * before reading it whole. Chromium looks a picked file's size up on first use: a file deleted
 * before then has size 0, and its slices read nothing without an error, so it would be taken for an
 * empty file. A file of size 0 is therefore read whole, which fails as a missing file does
 * (NotFoundError; `readingFile` names it and the fix), while an empty file that is there reads empty.
 */
export async function fileHead(file: Blob, length: number): Promise<Uint8Array> {
  return new Uint8Array(await (file.size === 0 ? file : file.slice(0, length)).arrayBuffer());
}
