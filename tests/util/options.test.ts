import { describe, expect, it } from 'vitest';
import { integer, listOf, number, oneOf, parseOptions, UsageError } from '../../src/util/options';

describe('command-line options', () => {
  it("says parseArgs's errors the way the commands' own checks say them", () => {
    const options = { steps: { type: 'string' }, 'count-only': { type: 'boolean' } } as const;
    expect(parseOptions(['--steps=5', '--count-only'], options)).toEqual({ steps: '5', 'count-only': true });
    const cases: [string[], string][] = [
      [['--steps'], '--steps needs a value'],
      [['--steps', '--count-only'], '--steps needs a value'],
      [['--count-only=yes'], '--count-only takes no value'],
      [['--frobnicate'], "Unknown option '--frobnicate'"],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseOptions(argv, options), argv.join(' ')).toThrow(new UsageError(message));
    }
    expect(() => parseOptions(['x.bin'], options)).toThrow(/Unexpected argument 'x.bin'/);
  });

  it('takes a negative number as the value it is, so that the range check names it', () => {
    const options = { steps: { type: 'string' }, lr: { type: 'string' }, 'count-only': { type: 'boolean' } } as const;
    expect(parseOptions(['--steps', '-3', '--lr', '-.5', '--count-only'], options)).toEqual({ steps: '-3', lr: '-.5', 'count-only': true });
    expect(() => integer('steps', parseOptions(['--steps', '-3'], options).steps, 1)).toThrow("--steps must be an integer ≥ 1, got '-3'");
    // Still no value when the next word is an option, and a boolean takes none.
    expect(() => parseOptions(['--steps', '--count-only'], options)).toThrow(new UsageError('--steps needs a value'));
    expect(() => parseOptions(['--count-only', '-3'], options)).toThrow(UsageError);
  });

  it('checks integers, numbers in a range, and choices, naming the option and the value', () => {
    expect(integer('batch', '16', 2)).toBe(16);
    expect(integer('seed', undefined, 0)).toBeUndefined();
    for (const bad of ['1', '2.5', '', 'x']) expect(() => integer('batch', bad, 2)).toThrow(`--batch must be an integer ≥ 2, got '${bad}'`);
    expect(number('crop-scale', '0.08', { above: 0, max: 1 })).toBe(0.08);
    expect(() => number('crop-scale', '0', { above: 0, max: 1 })).toThrow("--crop-scale must be in (0, 1], got '0'");
    expect(() => number('crop-scale', '1.5', { above: 0, max: 1 })).toThrow("--crop-scale must be in (0, 1], got '1.5'");
    expect(() => number('epochs', '0', { above: 0 })).toThrow("--epochs must be greater than 0, got '0'");
    expect(() => number('lr', ' ', {})).toThrow("--lr must be a number, got ' '");
    expect(() => number('m', '2', { min: 0, max: 1 })).toThrow("--m must be in [0, 1], got '2'");
    expect(oneOf('moco', 'v1', ['v1', 'v2'])).toBe('v1');
    expect(() => oneOf('knn-on', 'neck', ['backbone', 'head', 'both'])).toThrow("--knn-on must be backbone, head or both, got 'neck'");
    expect(() => oneOf('preset', 'x', ['a', 'b', 'c', 'd'])).toThrow("--preset must be one of a, b, c, d, got 'x'");
    expect(listOf('where', 'node, chromium', ['node', 'chromium'])).toEqual(['node', 'chromium']);
    expect(() => listOf('where', 'node,firefox', ['node', 'chromium'])).toThrow("--where takes node and/or chromium, got 'firefox'");
  });
});
