/**
 * Writing a result file of the headless trainer (a checkpoint, a recording) so that a failure mid-write
 * leaves the previous file whole: the bytes go to a temporary file renamed over it. A failure is
 * printed with what to do, named by the option that chose the path.
 */
import { rename, rm, writeFile } from 'node:fs/promises';

/** The file operations a write makes: Node's, or in tests ones that fail as a full disk does, on any OS. */
export interface WriteFiles {
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: boolean }): Promise<void>;
}

export const NODE_FILES: WriteFiles = { writeFile, rename, rm };

/**
 * Writes `bytes` to `path` atomically. False (and the error printed, with its fix) when it could not:
 * `what` names the file in the message ("the checkpoint"), `option` the flag whose path it was.
 */
export async function writeAtomically(path: string, bytes: Uint8Array, what: string, option: string, files: WriteFiles = NODE_FILES): Promise<boolean> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await files.writeFile(temporary, bytes);
    await files.rename(temporary, path);
    return true;
  } catch (e) {
    await files.rm(temporary, { force: true }).catch(() => {});
    console.error(`error: could not write ${what} ${path} (${(e as Error).message}); the previous one, if any, is intact: ${writeFix(e, option)}`);
    return false;
  }
}

/** What to do about a file that could not be written, by the system's error code. */
function writeFix(e: unknown, option: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `free space on its disk, or give ${option} a path on another disk`;
  if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') return `a folder took its path: move the folder away, or give ${option} another file name`;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `make its folder writable, or give ${option} a path in a writable folder`;
  return `check its folder and disk, or give ${option} another path`;
}
