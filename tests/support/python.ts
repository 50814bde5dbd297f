import { spawnSync } from 'node:child_process';

/**
 * A Python 3 that imports torch and numpy: $MOCO_PYTHON, else `python3`, else Debian's
 * `/usr/bin/python3` (a pyenv or venv `python3` on the PATH may lack Debian's python3-torch).
 * Throws, never skips: the PyTorch tests are part of `npm test` (`.ci/run` installs python3-torch).
 */
export function torchPython(): string {
  const candidates = [process.env.MOCO_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return python;
    tried.push(`${python}: ${r.error ? r.error.message : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`)}`);
  }
  throw new Error(
    `the PyTorch tests need Python 3 with torch and numpy (Debian: apt-get install python3-torch python3-numpy, as .ci/run does; or set MOCO_PYTHON). Tried ${tried.join('; ')}`,
  );
}

/** Runs a Python script of the repository; throws with its output when it fails. */
export function runPython(python: string, args: string[], options: { cwd: string; timeoutMs?: number; env?: Record<string, string> }): string {
  const r = spawnSync(python, args, { cwd: options.cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, env: { ...process.env, ...options.env } });
  if (r.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
