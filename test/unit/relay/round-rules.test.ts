// The pure rules behind a round: which token ranges are handed out, and how work is sized by
// the speed the relay measured.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardPool, type TokenRange } from '../../../relay/rounds/shard-pool.ts';
import { sizeRound } from '../../../relay/rounds/sizing.ts';

describe('ShardPool', () => {
  it('never hands out a token twice in an epoch, whatever is taken, released and committed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 300 }), keep: fc.boolean() }), {
          maxLength: 60,
        }),
        (ops) => {
          const pool = new ShardPool(1000);
          const trained: TokenRange[] = [];
          for (const op of ops) {
            const range = pool.take(op.size, 10, 1);
            if (!range) break; // the epoch's free ranges are used up while one is still held
            expect(range.end - range.start).toBeGreaterThanOrEqual(Math.min(10, op.size));
            if (op.keep) trained.push(range);
            else pool.release(range); // its peer vanished
          }
          const sorted = [...trained].sort((a, b) => a.start - b.start);
          for (let i = 1; i < sorted.length; i++)
            expect(sorted[i]?.start).toBeGreaterThanOrEqual(sorted[i - 1]?.end as number);
          expect(pool.epoch).toBe(0);
        },
      ),
    );
  });

  it('starts a new epoch only when nothing is left and nothing is held', () => {
    const pool = new ShardPool(100);
    const a = pool.take(60, 10, 0) as TokenRange;
    const b = pool.take(60, 10, 1) as TokenRange;
    expect([a, b]).toEqual([
      { start: 0, end: 60 },
      { start: 60, end: 100 },
    ]);
    expect(pool.take(60, 10, 2)).toBeNull(); // both held: wait, do not wrap
    pool.release(b);
    expect(pool.take(60, 10, 1)).toEqual({ start: 60, end: 100 });
    expect(pool.take(60, 10, 0)).toEqual({ start: 0, end: 60 });
    expect(pool.epoch).toBe(1);
  });

  it('rolls an exhausted epoch over before a round is sized, and not while ranges remain', () => {
    const pool = new ShardPool(100);
    pool.take(95, 10, 0);
    pool.rollUnlessServes(1, 10); // 5 tokens left: too few for one window
    expect(pool.epoch).toBe(1);
    expect(pool.freeTokens).toBe(100);
    pool.take(50, 10, 0);
    pool.rollUnlessServes(1, 10);
    expect(pool.epoch).toBe(1);
  });

  it('rolls over when what is left cannot give every member of the round a window', () => {
    const pool = new ShardPool(100);
    pool.take(85, 10, 0); // 15 tokens left: one window, not two
    pool.rollUnlessServes(1, 10);
    expect(pool.epoch).toBe(0);
    pool.rollUnlessServes(2, 10);
    expect(pool.epoch).toBe(1);
    expect(pool.take(10, 10, 0)).not.toBeNull();
    expect(pool.take(10, 10, 1)).not.toBeNull();
  });

  it('replays committed rounds after a restart, moving to the epoch they were in', () => {
    const pool = new ShardPool(100);
    pool.replayCommitted([{ start: 0, end: 50 }]);
    pool.replayCommitted([{ start: 50, end: 100 }]);
    pool.replayCommitted([{ start: 0, end: 30 }]); // this round was in epoch 1
    expect(pool.epoch).toBe(1);
    expect(pool.take(100, 10, 0)).toEqual({ start: 30, end: 100 });
  });
});

describe('sizeRound', () => {
  const rules = {
    innerSteps: 20,
    tokensPerStep: 512,
    maxInnerStepsFactor: 4,
    slowestSpeedRatio: 0.125,
  };

  it('gives each member the steps it can do while a median peer does H', () => {
    const sizing = sizeRound(
      [
        { peer: 'laptop', tokensPerSec: 500, uplinkBytesPerSec: 1e6 },
        { peer: 'desktop', tokensPerSec: 2000, uplinkBytesPerSec: 1e6 },
        { peer: 'median', tokensPerSec: 1000, uplinkBytesPerSec: 1e6 },
      ],
      rules,
    );
    const steps = Object.fromEntries(sizing.shares.map((s) => [s.peer, s.innerSteps]));
    expect(steps).toEqual({ laptop: 10, desktop: 40, median: 20 });
    // Every member's inner time is then the median's: steps x tokens/step / speed.
    for (const [peer, speed] of [
      ['laptop', 500],
      ['desktop', 2000],
      ['median', 1000],
    ] as const)
      expect(((steps[peer] as number) * 512) / speed).toBeCloseTo(sizing.innerSeconds, 6);
  });

  it('leaves out only peers far slower than the median: every other peer is seated', () => {
    const sizing = sizeRound(
      [
        { peer: 'a', tokensPerSec: 1000, uplinkBytesPerSec: 1 },
        { peer: 'b', tokensPerSec: 1000, uplinkBytesPerSec: 1 },
        { peer: 'c', tokensPerSec: 1000, uplinkBytesPerSec: 1 },
        { peer: 'd', tokensPerSec: 900, uplinkBytesPerSec: 1 },
        { peer: 'snail', tokensPerSec: 10, uplinkBytesPerSec: 1 },
      ],
      rules,
    );
    expect(sizing.shares.map((s) => s.peer)).toEqual(['a', 'b', 'c', 'd']);
    expect(sizing.waiting).toEqual(['snail']);
  });

  it('seats the fastest slow peers after all when the round would fall below minMembers', () => {
    const candidates = [
      { peer: 'fast', tokensPerSec: 2000, uplinkBytesPerSec: 1 },
      { peer: 'busy', tokensPerSec: 100, uplinkBytesPerSec: 1 }, // < 1/8 of the median, 1050
    ];
    expect(sizeRound(candidates, rules).waiting).toEqual(['busy']);
    const sizing = sizeRound(candidates, { ...rules, minMembers: 2 });
    expect(sizing.shares.map((s) => s.peer)).toEqual(['fast', 'busy']);
    expect(sizing.shares[1]?.innerSteps).toBe(2); // 20 x 100 / 1050, rounded
    expect(sizing.waiting).toEqual([]);
  });

  it('caps a very fast peer at maxInnerStepsFactor x H, and treats unknown speed as the median', () => {
    const sizing = sizeRound(
      [
        { peer: 'rocket', tokensPerSec: 1e6, uplinkBytesPerSec: 1 },
        { peer: 'new', tokensPerSec: 0, uplinkBytesPerSec: 1 },
        { peer: 'x', tokensPerSec: 1000, uplinkBytesPerSec: 1 },
        { peer: 'y', tokensPerSec: 1000, uplinkBytesPerSec: 1 },
      ],
      rules,
    );
    const steps = Object.fromEntries(sizing.shares.map((s) => [s.peer, s.innerSteps]));
    expect(steps).toEqual({ rocket: 80, new: 20, x: 20, y: 20 });
  });
});
