import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A lock held by a process that no longer runs is taken over at once; one whose owner cannot be told (a foreign machine's, a pid not yet written) after this long. */
export const LOCK_STALE_MS = 300_000;

/**
 * Takes the lock folder `lock` (made atomically by `mkdir`, holding the owner's pid) and returns
 * true, or returns false where another process of this machine holds it. A lock whose owner is gone
 * (a test run killed mid-build) is taken over at once: waiting out its age would outlast the
 * waiters' hook timeouts.
 */
export async function tryLockFolder(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
  } catch {
    if (!(await lockAbandoned(lock))) return false;
    await rm(lock, { recursive: true, force: true });
    try {
      await mkdir(lock);
    } catch {
      // Another waiter took it over first.
      return false;
    }
  }
  await writeFile(join(lock, 'pid'), String(process.pid));
  return true;
}

/** Whether `lock`'s owner is gone: its pid names no running process, or the lock is older than LOCK_STALE_MS. */
export async function lockAbandoned(lock: string): Promise<boolean> {
  const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
  if (Number.isInteger(pid) && pid > 0 && !running(pid)) return true;
  const age = await stat(lock).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  return age > LOCK_STALE_MS;
}

/** Whether process `pid` runs on this machine. */
export function running(pid: number): boolean {
  try {
    // Signal 0 sends nothing: it only asks whether the process exists (EPERM: it does, another user's).
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
