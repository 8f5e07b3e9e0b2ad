// The shard pool over a mixture (protocol/data-mixture.ts): each dataset gets its share of the
// tokens handed out, counted exactly, and no range of a dataset is trained twice in an epoch of
// that dataset, while a small replay set cycles through its epochs on its own.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mixtureSpans, spanOf } from '../../../protocol/data-mixture.ts';
import { ShardPool, type TokenRange } from '../../../relay/rounds/shard-pool.ts';

/** Takes `count` ranges of `size` tokens, each committed at once (nothing held between takes). */
function takeCommitted(pool: ShardPool, count: number, size: number): TokenRange[] {
  const out: TokenRange[] = [];
  for (let i = 0; i < count; i++) {
    const range = pool.take(size, size, 0);
    if (!range) throw new Error(`take ${i} found nothing`);
    out.push(range);
  }
  return out;
}

/** The ranges as one sorted list of [start, end), checking they tile [from, to) exactly once. */
function expectTiles(ranges: readonly TokenRange[], from: number, to: number): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let at = from;
  for (const r of sorted) {
    expect(r.start).toBe(at);
    at = r.end;
  }
  expect(at).toBe(to);
}

describe('ShardPool over a mixture', () => {
  it('hands out 3:1 in every four ranges, one epoch of the new data against 2.5 of the replay', () => {
    // New data: 3,000 tokens, share 0.75; replay: 400 tokens, share 0.25; ranges of 100.
    const pool = new ShardPool([
      { tokens: 3000, share: 0.75 },
      { tokens: 400, share: 0.25 },
    ]);
    const ranges = takeCommitted(pool, 40, 100);
    const spans = mixtureSpans([3000, 400]);
    const which = ranges.map((r) => spanOf(spans, r.start, r.end));
    for (let i = 0; i < 40; i += 4) expect(which.slice(i, i + 4)).toEqual([0, 0, 0, 1]);
    expect(pool.handedTokens).toEqual([3000, 1000]);
    // The new data's one epoch: every range of it once.
    expectTiles(
      ranges.filter((_, i) => which[i] === 0),
      0,
      3000,
    );
    // The replay's: four ranges an epoch, two epochs whole and half of the third.
    const replay = ranges.filter((_, i) => which[i] === 1);
    expectTiles(replay.slice(0, 4), 3000, 3400);
    expectTiles(replay.slice(4, 8), 3000, 3400);
    expectTiles(replay.slice(8), 3000, 3200);
    expect(pool.epochs).toEqual([0, 2]);
    expect(pool.epoch).toBe(0); // the run's epoch is its largest share's
  });

  it('gives a 5% replay exactly 5 ranges in 100, spread out, not in a burst', () => {
    const pool = new ShardPool([
      { tokens: 1_000_000, share: 0.95 },
      { tokens: 50_000, share: 0.05 },
    ]);
    const ranges = takeCommitted(pool, 100, 1000);
    const replay = ranges.map((r, i) => (r.start >= 1_000_000 ? i : -1)).filter((i) => i >= 0);
    expect(replay).toEqual([19, 39, 59, 79, 99]);
    expect(pool.handedTokens).toEqual([95_000, 5_000]);
  });

  it('counts a range given back as never handed out, and gives it out again', () => {
    const pool = new ShardPool([
      { tokens: 1000, share: 0.5 },
      { tokens: 1000, share: 0.5 },
    ]);
    const a = pool.take(100, 100, 0) as TokenRange;
    const b = pool.take(100, 100, 1) as TokenRange;
    expect([a, b]).toEqual([
      { start: 0, end: 100 },
      { start: 1000, end: 1100 },
    ]);
    pool.release(b);
    expect(pool.handedTokens).toEqual([100, 0]);
    expect(pool.take(100, 100, 1)).toEqual({ start: 1000, end: 1100 });
    // A range straddling two datasets, or outside the run, is no range of the pool's.
    pool.release({ start: 950, end: 1050 });
    pool.release({ start: 5000, end: 5100 });
    expect(pool.handedTokens).toEqual([100, 100]);
  });

  it('while ranges are held, lets the next dataset serve rather than wrap a spent one', () => {
    const pool = new ShardPool([
      { tokens: 200, share: 0.5 },
      { tokens: 1000, share: 0.5 },
    ]);
    expect(pool.take(200, 100, 0)).toEqual({ start: 0, end: 200 }); // the first dataset, all of it
    // It is next in line again after two of the second's, but nothing of it is free and a
    // range is held: the second serves.
    expect(pool.take(100, 100, 1)).toEqual({ start: 200, end: 300 });
    expect(pool.take(100, 100, 2)).toEqual({ start: 300, end: 400 });
    expect(pool.take(100, 100, 3)).toEqual({ start: 400, end: 500 });
    expect(pool.epochs).toEqual([0, 0]);
    // Nothing held: the spent dataset starts its next epoch.
    expect(pool.take(100, 100, 0)).toEqual({ start: 0, end: 100 });
    expect(pool.epochs).toEqual([1, 0]);
  });

  it('rolls each dataset that cannot seat the round, and only that one', () => {
    const pool = new ShardPool([
      { tokens: 1000, share: 0.9 },
      { tokens: 150, share: 0.1 },
    ]);
    pool.replayCommitted([{ start: 1000, end: 1100 }]); // 50 of the replay left: no window of 100
    pool.rollUnlessServes(2, 100);
    expect(pool.epochs).toEqual([0, 1]);
    expect(pool.freeTokens).toBe(1150);
  });

  it('replays committed rounds per dataset after a restart: epochs and counts come back', () => {
    const fresh = new ShardPool([
      { tokens: 300, share: 0.5 },
      { tokens: 100, share: 0.5 },
    ]);
    const committed = takeCommitted(fresh, 6, 100);
    const restarted = new ShardPool([
      { tokens: 300, share: 0.5 },
      { tokens: 100, share: 0.5 },
    ]);
    for (const range of committed) restarted.replayCommitted([range]);
    expect(restarted.epochs).toEqual(fresh.epochs);
    expect(restarted.handedTokens).toEqual(fresh.handedTokens);
    expect(restarted.take(100, 100, 0)).toEqual(fresh.take(100, 100, 0));
    restarted.replayCommitted([{ start: 250, end: 350 }]); // in no one dataset: passed over
    expect(restarted.handedTokens).toEqual(fresh.handedTokens);
  });

  const mixtures = fc.array(
    fc.record({ tokens: fc.integer({ min: 20, max: 2000 }), weight: fc.integer({ min: 1, max: 50 }) }),
    {
      minLength: 1,
      maxLength: 4,
    },
  );

  it('never trains a range twice in an epoch of its dataset, whatever is taken, given back and committed', () => {
    fc.assert(
      fc.property(
        mixtures,
        fc.array(
          fc.record({
            size: fc.integer({ min: 1, max: 300 }),
            fate: fc.constantFrom('commit', 'release', 'hold'),
          }),
          { maxLength: 80 },
        ),
        (datasets, ops) => {
          const sum = datasets.reduce((n, d) => n + d.weight, 0);
          const pool = new ShardPool(datasets.map((d) => ({ tokens: d.tokens, share: d.weight / sum })));
          const spans = mixtureSpans(datasets.map((d) => d.tokens));
          // Per dataset, the ranges each epoch trained, by the epoch the pool was in when the
          // round committed (the ledger's view); and the ranges peers hold now.
          const trained = datasets.map(() => new Map<number, TokenRange[]>());
          const commit = (range: TokenRange, d: number) => {
            const byEpoch = trained[d] as Map<number, TokenRange[]>;
            const epoch = pool.epochs[d] as number;
            byEpoch.set(epoch, [...(byEpoch.get(epoch) ?? []), range]);
          };
          const held: { range: TokenRange; d: number }[] = [];
          for (const op of ops) {
            const range = pool.take(op.size, 10, held.length);
            if (!range) {
              // Every dataset is spent while ranges are held: the round ends, its ranges commit.
              expect(held.length).toBeGreaterThan(0);
              for (const h of held.splice(0)) commit(h.range, h.d);
              continue;
            }
            const d = spanOf(spans, range.start, range.end);
            expect(d).toBeGreaterThanOrEqual(0);
            expect(range.end - range.start).toBeGreaterThanOrEqual(Math.min(10, op.size));
            // Disjoint from what its dataset trained this epoch and from what peers hold.
            const others = [
              ...(trained[d]?.get(pool.epochs[d] as number) ?? []),
              ...held.filter((h) => h.d === d).map((h) => h.range),
            ];
            for (const o of others) expect(range.end <= o.start || o.end <= range.start).toBe(true);
            if (op.fate === 'commit') commit(range, d);
            else if (op.fate === 'release') pool.release(range);
            else held.push({ range, d });
          }
          for (const h of held.splice(0)) commit(h.range, h.d);
          // Within an epoch of a dataset, no token twice.
          for (const byEpoch of trained)
            for (const ranges of byEpoch.values()) {
              const sorted = [...ranges].sort((a, b) => a.start - b.start);
              for (let i = 1; i < sorted.length; i++)
                expect(sorted[i]?.start).toBeGreaterThanOrEqual(sorted[i - 1]?.end as number);
            }
        },
      ),
    );
  });

  // The rule picks a dataset only when, after the take, it stands no further above its share
  // than any other: summed over the n datasets, a dataset then holds at most (n - 1) × its share
  // × the largest range more than its share of everything handed out, and since the excesses
  // sum to zero, none falls more than (n - 1) ranges short. Equal ranges do better (above).
  it("keeps every dataset's tokens within (datasets - 1) ranges of its share, ranges of any size", () => {
    fc.assert(
      fc.property(
        mixtures,
        fc.array(fc.integer({ min: 10, max: 300 }), { minLength: 1, maxLength: 120 }),
        (datasets, sizes) => {
          const sum = datasets.reduce((n, d) => n + d.weight, 0);
          const shares = datasets.map((d) => d.weight / sum);
          const pool = new ShardPool(
            datasets.map((d, i) => ({ tokens: d.tokens, share: shares[i] as number })),
          );
          for (const size of sizes) pool.take(size, 10, 0);
          const handed = pool.handedTokens;
          const total = handed.reduce((n, t) => n + t, 0);
          const others = datasets.length - 1;
          const largest = Math.max(...sizes);
          for (const [i, share] of shares.entries()) {
            const excess = (handed[i] as number) - share * total;
            expect(excess).toBeLessThanOrEqual(others * share * largest + 1e-9);
            expect(excess).toBeGreaterThanOrEqual(-others * largest - 1e-9);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
