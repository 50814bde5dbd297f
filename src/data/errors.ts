import { FileError } from '../util/fileError';

/**
 * A problem with the user's data (not a bug): the message names the file and says what is wrong,
 * ready to show as it is. Loaders throw it before returning anything, so a failed load changes nothing.
 */
export class DatasetError extends FileError {
  override readonly name = 'DatasetError';
}

/** Byte counts with thousands separators, as the messages print them. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
