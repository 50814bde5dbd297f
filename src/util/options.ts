import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * Command-line options for the trainer and the benchmark: node:util's parseArgs, the checks both
 * need, and the one error type whose message the command prints above its usage (exit status 2).
 */
export class UsageError extends Error {}

/** Parses `argv` (no positional arguments) into the option values, or throws a UsageError. */
export function parseOptions<const O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: withNegativeValues(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error & { code?: string }));
  }
}

/**
 * `--lr -1` as `--lr=-1`: parseArgs takes a value that starts with a dash for another option and
 * says the option has none, which sends the user looking for a missing value instead of at the
 * value's range. A negative number is never an option name, so it goes to the option before it.
 */
function withNegativeValues(argv: string[], options: ParseArgsOptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** The options `argv` gives (names without dashes), to tell them from defaults. */
export function givenOptions(argv: string[], options: ParseArgsOptionsConfig): Set<string> {
  const { tokens } = parseArgs({ args: withNegativeValues(argv, options), options, strict: false, allowPositionals: true, tokens: true });
  return new Set(tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : [])));
}

/** parseArgs's message, said the way our own checks say it. */
function parseArgsMessage(e: Error & { code?: string }): string {
  const option = /^Option '(-[^ ']+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    // "argument missing", or "ambiguous" when the next word is another option.
    if (/argument missing|ambiguous/.test(e.message)) return `${option} needs a value`;
    if (/does not take an argument/.test(e.message)) return `${option} takes no value`;
  }
  // Newer Node adds advice on positional arguments, which neither command takes.
  const unknown = /^Unknown option '[^']+'/.exec(e.message);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) return unknown[0];
  return e.message.split('\n')[0];
}

/** `text` as an integer ≥ `min`; undefined stays undefined (the option was not given). */
export function integer(name: string, text: string, min: number): number;
export function integer(name: string, text: string | undefined, min: number): number | undefined;
export function integer(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${text}'`);
  return n;
}

/** Bounds for `number`; an open lower bound (`above`) excludes its value. */
export interface Range {
  above?: number;
  min?: number;
  max?: number;
}

/** `text` as a finite number within `range`; undefined stays undefined. */
export function number(name: string, text: string, range?: Range): number;
export function number(name: string, text: string | undefined, range?: Range): number | undefined;
export function number(name: string, text: string | undefined, range: Range = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${text}'`);
  const { above, min, max } = range;
  const inside = (above === undefined || n > above) && (min === undefined || n >= min) && (max === undefined || n <= max);
  if (!inside) throw new UsageError(`--${name} must be ${describeRange(range)}, got '${text}'`);
  return n;
}

function describeRange({ above, min, max }: Range): string {
  const low = above ?? min;
  if (low === undefined) return `≤ ${max}`;
  if (max === undefined) return above !== undefined ? `greater than ${above}` : `≥ ${min}`;
  return `in ${above !== undefined ? '(' : '['}${low}, ${max}]`;
}

/** `text` if it is one of `choices`. */
export function oneOf<const C extends string>(name: string, text: string, choices: readonly C[]): C {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${name} must be ${alternatives(choices)}, got '${text}'`);
  return text as C;
}

/** A comma-separated list, each item one of `choices`. */
export function listOf<const C extends string>(name: string, text: string, choices: readonly C[]): C[] {
  const items = list(text);
  const wrong = items.find((item) => !(choices as readonly string[]).includes(item));
  if (wrong !== undefined) throw new UsageError(`--${name} takes ${choices.length === 2 ? choices.join(' and/or ') : choices.join(', ')}, got '${wrong}'`);
  return items as C[];
}

/** A comma-separated list's non-empty items. */
export function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function alternatives(choices: readonly string[]): string {
  if (choices.length > 3) return `one of ${choices.join(', ')}`;
  return choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}
