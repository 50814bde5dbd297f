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
