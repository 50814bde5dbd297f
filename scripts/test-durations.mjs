// Rewrites tests/durations.json, the table by which tests/support/sequencer.ts starts the longest
// test files first, from the durations vitest cached on its last runs
// (node_modules/.vite/vitest/*/results.json). Run it after a full `npm test` on a quiet machine:
//   node scripts/test-durations.mjs
// Files the cache has not timed keep their old entry; files that no longer exist are dropped.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const table = resolve(root, 'tests/durations.json');
const cacheDir = resolve(root, 'node_modules/.vite/vitest');

const old = existsSync(table) ? JSON.parse(readFileSync(table, 'utf8')).seconds : {};
const measured = {};
for (const dir of existsSync(cacheDir) ? readdirSync(cacheDir) : []) {
  const file = join(cacheDir, dir, 'results.json');
  if (!existsSync(file)) continue;
  for (const [key, { duration }] of JSON.parse(readFileSync(file, 'utf8')).results) {
    // Keys are `project:path`; this config has one unnamed project.
    const path = key.slice(key.indexOf(':') + 1);
    if (typeof duration === 'number' && duration > 0) measured[path] = Math.round(duration / 100) / 10;
  }
}
if (Object.keys(measured).length === 0) {
  console.error(`No test durations in ${cacheDir}: run the tests (npm test) first, then this script.`);
  process.exit(1);
}
const merged = { ...old, ...measured };
const seconds = Object.fromEntries(
  Object.entries(merged)
    .filter(([path]) => existsSync(resolve(root, path)))
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)),
);
writeFileSync(table, JSON.stringify({ seconds }, null, 2) + '\n');
console.log(`${table}: ${Object.keys(seconds).length} files, ${Object.keys(measured).length} measured now, ` +
  `${Math.round(Object.values(seconds).reduce((a, b) => a + b, 0))} s in all`);
