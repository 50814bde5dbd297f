/**
 * A problem with a file the user gave (not a bug): the message names the file and says what is
 * wrong, ready to show as it is. Each kind of file has its subclass (`DatasetError`,
 * `CheckpointError`, `RecordingError`), which callers catch by `instanceof`.
 */
export class FileError extends Error {
  constructor(
    /** The file or folder at fault, as the user would recognise it (a name or a relative path). */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
