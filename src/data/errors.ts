/**
 * A problem with the user's data (not a bug): the message names the file and says what is wrong,
 * ready to show as it is. Loaders throw it before returning anything, so a failed load changes nothing.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';

  constructor(
    /** The file or folder at fault, as the user would recognise it (a name or a relative path). */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** Byte counts with thousands separators, as the messages print them. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
