import { describe, expect, it } from 'vitest';
import { nearestInDirection, nearestTo, typedPoint } from '../../src/ui/pointNavigation';

describe('moving between the points of a scatter plot with the arrow keys', () => {
  // Screen coordinates (y down):   0 at (0, 0), 1 at (10, 1), 2 at (4, 12), 3 at (30, 0), 4 at (-8, -2), 5 on 1's spot.
  const x = [0, 10, 4, 30, -8, 10];
  const y = [0, 1, 12, 0, -2, 1];

  it('goes to the nearest point ahead, a step aside counting twice a step ahead', () => {
    expect(nearestInDirection(x, y, 0, 'right')).toBe(1);
    expect(nearestInDirection(x, y, 0, 'left')).toBe(4);
    expect(nearestInDirection(x, y, 0, 'down')).toBe(2);
    // Up from 0: only 4 lies above (2 up, 8 aside: 2 + 16), nothing else.
    expect(nearestInDirection(x, y, 0, 'up')).toBe(4);
    // Right from 2 (4, 12): 1 is 6 ahead and 11 aside (28), 3 is 26 ahead and 12 aside (50).
    expect(nearestInDirection(x, y, 2, 'right')).toBe(1);
  });

  it('walks through points drawn on the same spot by number, and then on', () => {
    expect(nearestInDirection(x, y, 1, 'right')).toBe(5);
    expect(nearestInDirection(x, y, 5, 'right')).toBe(3);
    expect(nearestInDirection(x, y, 5, 'left')).toBe(1);
    expect(nearestInDirection(x, y, 1, 'left')).toBe(0);
  });

  it('stays put (−1) where nothing lies that way, and every point is reachable from any other', () => {
    expect(nearestInDirection(x, y, 3, 'right')).toBe(-1);
    expect(nearestInDirection(x, y, 2, 'down')).toBe(-1);
    const reached = new Set([0]);
    for (let round = 0; round < x.length; round++)
      for (const from of [...reached]) for (const d of ['left', 'right', 'up', 'down'] as const) reached.add(nearestInDirection(x, y, from, d));
    reached.delete(-1);
    expect([...reached].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('starts from the point nearest to the middle', () => {
    expect(nearestTo(x, y, 9, 2)).toBe(1);
    expect(nearestTo([], [], 0, 0)).toBe(-1);
  });
});

describe('a held-out image picked by its number', () => {
  it('takes a whole number in range, and says the valid range for any other instead of moving it to the nearest end', () => {
    expect(typedPoint('0', 1000)).toEqual({ index: 0 });
    expect(typedPoint(' 999 ', 1000)).toEqual({ index: 999 });
    expect(typedPoint('5000', 1000)).toEqual({ error: 'there is no held-out image 5000: type a whole number from 0 to 999' });
    expect(typedPoint('-1', 1000)).toEqual({ error: 'there is no held-out image -1: type a whole number from 0 to 999' });
    expect(typedPoint('2.5', 1000)).toEqual({ error: 'there is no held-out image 2.5: type a whole number from 0 to 999' });
    // What a number box gives for text it cannot read, or when cleared.
    expect(typedPoint('', 100)).toEqual({ error: 'type the number of a held-out image: a whole number from 0 to 99' });
  });
});
