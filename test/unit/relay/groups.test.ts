// Seating everyone: regroup() puts every member in exactly one group, no group above the cap,
// sizes within one of each other, as few groups as the cap allows; and it keeps groups from
// round to round, so a member whose group did not change keeps its links.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { regroup } from '../../../relay/rounds/groups.ts';

const ids = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `peer-${String(i + from).padStart(5, '0')}`);

function checkShape(groups: string[][], members: readonly string[], cap: number): void {
  const seated = groups.flat();
  expect(seated.sort()).toEqual([...members].sort());
  expect(groups.length).toBe(Math.ceil(members.length / cap));
  const sizes = groups.map((g) => g.length);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(cap);
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  for (const g of groups) expect(g).toEqual([...g].sort());
}

describe('regroup', () => {
  it('seats every member once, within the cap, in balanced groups, from any previous grouping', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 300 }),
        fc.nat(),
        (n, cap, before, seed) => {
          const rng = createRng(seed);
          const previous = regroup([], ids(before, 150), cap, () => rng.nextFloat());
          const members = ids(n);
          checkShape(
            regroup(previous, members, cap, () => rng.nextFloat()),
            members,
            cap,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the groups when nobody comes or goes', () => {
    const rng = createRng(1);
    const members = ids(1024);
    const first = regroup([], members, 16, () => rng.nextFloat());
    expect(regroup(first, members, 16, () => rng.nextFloat())).toEqual(first);
  });

  it('moves few members when some come and go', () => {
    const rng = createRng(2);
    const members = ids(1000);
    const first = regroup([], members, 16, () => rng.nextFloat());
    const groupOf = new Map(first.flatMap((g, i) => g.map((id) => [id, i] as const)));
    // 20 leave, 30 arrive.
    const next = [...members.slice(20), ...ids(30, 5000)];
    const second = regroup(first, next, 16, () => rng.nextFloat());
    checkShape(second, next, 16);
    let moved = 0;
    for (const group of second) {
      const origins = group.filter((id) => groupOf.has(id)).map((id) => groupOf.get(id));
      const home = mode(origins);
      moved += origins.filter((o) => o !== home).length;
    }
    // Against ~940 of 980 stayers moving under a fresh random grouping.
    expect(moved).toBeLessThan(60);
  });
});

function mode<T>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}
