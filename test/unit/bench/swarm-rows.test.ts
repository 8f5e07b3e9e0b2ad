// bench:swarm's rows (test/bench/swarm/rows.ts): a method's gap is taken against DDP within each
// seed and then averaged, bits per parameter per step follow from the bytes, and the modelled
// round time is compute plus the round's upload at 20 Mbit/s, or the longer of the two when overlapped.
import { expect, it } from 'vitest';
import { MODEL_UPLINK_BITS_PER_SEC, roundSeconds, swarmRows } from '../../bench/swarm/rows.ts';

it('averages per-seed gaps, and derives bits per parameter per step and the round time', () => {
  const ddp = (valLoss: number) => ({
    method: 'DDP',
    bytesPerPeer: 8_000_000,
    valLoss,
    syncs: 100,
    computeSecondsPerSync: 0.1,
  });
  const sparse = (valLoss: number) => ({
    method: 'sparse',
    bytesPerPeer: 10_000,
    valLoss,
    syncs: 10,
    computeSecondsPerSync: 1,
  });
  // Seed 1 is a harder draw for both: the gap, not the raw loss, is what carries over.
  const rows = swarmRows(
    [
      { seed: 1, runs: [ddp(4), sparse(4.2)] },
      { seed: 2, runs: [ddp(3), sparse(3)] },
    ],
    { paramCount: 1_000, steps: 100 },
  );
  expect(rows.map((r) => r.method)).toEqual(['DDP', 'sparse']);
  const [base, row] = rows;
  expect(base?.gapPercent).toBe(0);
  expect(row?.gapPercentBySeed[0]).toBeCloseTo(5, 10);
  expect(row?.gapPercentBySeed[1]).toBe(0);
  expect(row?.gapPercent).toBeCloseTo(2.5, 10);
  expect(row?.reduction).toBe(800);
  expect(row?.bitsPerParamPerStep).toBeCloseTo((8 * 10_000) / (1_000 * 100), 10);
  // 1,000 bytes a round on a 20 Mbit/s uplink: 0.4 ms beside 1 s of compute.
  expect(row?.roundSecondsAt20Mbit).toBeCloseTo(1 + (8 * 1_000) / MODEL_UPLINK_BITS_PER_SEC, 10);
  expect(roundSeconds(ddp(4))).toBeCloseTo(0.1 + (8 * 80_000) / 20e6, 10);
  // Overlapped, the upload runs during the next round's compute: the longer of the two.
  expect(roundSeconds({ ...sparse(4), overlapped: true })).toBe(1);
  expect(roundSeconds({ ...ddp(4), bytesPerPeer: 80_000_000, overlapped: true })).toBeCloseTo(
    (8 * 800_000) / 20e6,
    10,
  );
});
