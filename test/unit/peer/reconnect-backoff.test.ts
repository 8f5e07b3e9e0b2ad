// The reconnect back-off (web/src/peer/reconnect-backoff.ts) with an injected random source:
// the waits double from the first to the cap, jitter spreads each within ±50% of its base,
// and a reset starts again from the first wait. A switch to another relay of the run waits a
// spread below a second instead, and counts no failure.
import { expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { Backoff } from '../../../web/src/peer/reconnect-backoff.ts';

it('doubles from 0.5 s to the 15 s cap, exactly at the middle of the jitter', () => {
  const backoff = new Backoff({ random: () => 0.5 });
  const waits = Array.from({ length: 9 }, () => backoff.next());
  expect(waits).toEqual([500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000, 15_000]);
  expect(backoff.attempts).toBe(9);
});

it('jitters each wait within ±50% of its base, and both ends are reached', () => {
  expect(new Backoff({ random: () => 0 }).next()).toBe(250);
  expect(new Backoff({ random: () => 1 - 2 ** -53 }).next()).toBe(750);
  const rng = createRng(7);
  const backoff = new Backoff({ random: () => rng.nextFloat() });
  const bases = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000];
  const waits = bases.map(() => backoff.next());
  waits.forEach((wait, i) => {
    const base = bases[i] as number;
    expect(wait).toBeGreaterThanOrEqual(base * 0.5);
    expect(wait).toBeLessThanOrEqual(base * 1.5);
  });
  // Two volunteers that dropped together do not knock again together.
  const other = new Backoff({ random: () => rng.nextFloat() });
  expect(bases.map(() => other.next())).not.toEqual(waits);
});

it('starts again from the first wait after a reset (a healthy connection)', () => {
  const backoff = new Backoff({ random: () => 0.5, initialMs: 100, maxMs: 1_000 });
  expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400]);
  backoff.reset();
  expect(backoff.attempts).toBe(0);
  expect(backoff.next()).toBe(100);
});

it('spreads a switch to another relay below 1 s, without counting it as a failure', () => {
  const rng = createRng(3);
  const backoff = new Backoff({ random: () => rng.nextFloat() });
  const spreads = Array.from({ length: 200 }, () => backoff.spread());
  expect(Math.min(...spreads)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...spreads)).toBeLessThanOrEqual(1_000);
  expect(Math.max(...spreads) - Math.min(...spreads)).toBeGreaterThan(800); // spread, not one instant
  expect(backoff.attempts).toBe(0);
  expect(new Backoff({ random: () => 0.5 }).next()).toBe(500); // the back-off is untouched
  expect(new Backoff({ random: () => 0.5, spreadMs: 0 }).spread()).toBe(0);
});

it('refuses settings that make no schedule', () => {
  expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
  expect(() => new Backoff({ initialMs: 2_000, maxMs: 1_000 })).toThrow(RangeError);
  expect(() => new Backoff({ jitter: 1 })).toThrow(RangeError);
  expect(() => new Backoff({ spreadMs: -1 })).toThrow(RangeError);
  expect(() => new Backoff({ spreadMs: Number.NaN })).toThrow(RangeError);
});
