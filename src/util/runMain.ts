import { UsageError } from './options';

/** Runs a command's main function as the process: its result is the exit status, a throw prints the stack. */
export function runMain(main: (argv: string[]) => Promise<number>, argv = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`error: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}

/**
 * A command's options from its command line, or the exit status when there is nothing to run:
 * 0 after printing `usage` for --help, 2 after a UsageError (its message, then the usage).
 */
export function parseCommandLine<T>(argv: string[], parse: (argv: string[]) => T | 'help', usage: string): T | number {
  let args: T | 'help';
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n\n${usage}`);
    return 2;
  }
  if (args === 'help') {
    console.log(usage);
    return 0;
  }
  return args;
}
