import { benchNodeCommand } from '../bench/node';
import { runMain } from '../util/runMain';
import { trainCommand } from './trainCommand';

/**
 * One entry for a bare GPU machine (../shared/gpu/pack.sh packs one bundle): `bench ARGS` runs the
 * Node benchmark, `train ARGS` the headless trainer, with the same options as `npm run bench` /
 * `npm run train`.
 */
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { bench: benchNodeCommand, train: trainCommand };

runMain(async ([command, ...argv]) => {
  const run = command === undefined ? undefined : COMMANDS[command];
  if (!run) {
    console.error(`usage: app.mjs ${Object.keys(COMMANDS).join('|')} [options]   (--help after the command for its options)`);
    return 2;
  }
  return run(argv);
});
