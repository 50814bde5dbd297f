// Fails on any import cycle in src/ (types included), for `npm run lint` and so `npm test`.
import madge from 'madge';

/** Known cycles allowed for a while, each with its reason; a listed cycle that no longer exists fails too. */
const PENDING = [];

const graph = await madge('src', { fileExtensions: ['ts', 'tsx'], tsConfig: 'tsconfig.json' });
const cycles = graph.circular().map((files) => files.join(' > '));
const fresh = cycles.filter((c) => !PENDING.includes(c));
const gone = PENDING.filter((c) => !cycles.includes(c));
for (const c of fresh) console.error(`import cycle: ${c}`);
for (const c of gone) console.error(`scripts/cycles.mjs lists a cycle that no longer exists, remove it: ${c}`);
if (fresh.length || gone.length) process.exit(1);
console.log(`no import cycles in src/${PENDING.length ? ` (besides ${PENDING.length} pending in scripts/cycles.mjs)` : ''}`);
