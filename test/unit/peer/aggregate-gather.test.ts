// Gathering the aggregate within a group: every member ends with the relay's bytes, each piece
// fetched from the relay once per group when everyone is honest; a member that passes on
// altered pieces is named and its pieces come from the relay; a member that stays silent costs
// the wait, never the round; a relay whose piece is not the one it named fails the gather.
import { describe, expect, it } from 'vitest';
import { encodeAggregatePiece, pieceRange } from '../../../protocol/aggregate-piece.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { AggregateGather, type GatherNetwork } from '../../../web/src/peer/aggregate-gather.ts';

const ROUND = 7;

async function summaryOf(bytes: Uint8Array, count: number) {
  const pieces: string[] = [];
  for (let p = 0; p < count; p++) {
    const { start, end } = pieceRange(bytes.length, count, p);
    pieces.push(await sha256Hex(bytes.subarray(start, end)));
  }
  return { hash: await sha256Hex(bytes), bytes: bytes.length, pieces };
}

interface Member {
  readonly id: string;
  readonly gather: AggregateGather;
}

/** A group on an in-memory mesh; `tamper` alters what a member sends, `silent` members send nothing. */
function group(
  size: number,
  aggregate: Uint8Array,
  options: {
    tamper?: Set<string>;
    silent?: Set<string>;
    relayBytes?: (p: number, b: Uint8Array) => Uint8Array;
  } = {},
) {
  const ids = Array.from({ length: size }, (_, i) => `m${i}`);
  const fetches: number[] = [];
  const members = new Map<string, Member>();
  const relay = {
    async aggregatePiece(round: number, index: number, count: number) {
      expect(round).toBe(ROUND);
      fetches.push(index);
      const { start, end } = pieceRange(aggregate.length, count, index);
      const bytes = aggregate.slice(start, end);
      return options.relayBytes ? options.relayBytes(index, bytes) : bytes;
    },
  };
  let now = 0;
  const clock = {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
  for (const id of ids) {
    const network: GatherNetwork = {
      async send(to, message) {
        if (options.silent?.has(id)) return;
        const out = message.slice();
        if (options.tamper?.has(id)) out[out.length - 1] = (out[out.length - 1] as number) ^ 0xff;
        // Delivered later, in whatever order the event loop gives.
        setTimeout(() => members.get(to)?.gather.offer(id, out), Math.floor(Math.random() * 3));
      },
      connectedPeers: ids.filter((other) => other !== id),
    };
    members.set(id, { id, gather: new AggregateGather(network, relay, clock, aggregate.length, 1_000) });
  }
  return { ids, members, fetches, clock };
}

function aggregateBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
}

describe('gathering the aggregate in a group', () => {
  it('gives every member the relay’s bytes, each piece fetched once', async () => {
    const aggregate = aggregateBytes(10_000);
    const summary = await summaryOf(aggregate, 16);
    const { ids, members, fetches } = group(5, aggregate);
    const outcomes = await Promise.all(
      ids.map((id) => members.get(id)?.gather.gather(ROUND, summary, ids, id)),
    );
    for (const outcome of outcomes) {
      expect(outcome?.bytes).toEqual(aggregate);
      expect(outcome?.refused).toEqual([]);
    }
    expect(fetches.sort((a, b) => a - b)).toEqual([...Array(16).keys()]);
  });

  it('names a member that passes on altered pieces, and takes those from the relay', async () => {
    const aggregate = aggregateBytes(5_000);
    const summary = await summaryOf(aggregate, 4);
    const { ids, members, fetches } = group(4, aggregate, { tamper: new Set(['m2']) });
    const outcomes = await Promise.all(
      ids.map((id) => members.get(id)?.gather.gather(ROUND, summary, ids, id)),
    );
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome?.bytes).toEqual(aggregate);
      expect(outcome?.refused).toEqual(ids[i] === 'm2' ? [] : ['m2']);
    }
    // Piece 2 once by its owner and once by each of the three it lied to.
    expect(fetches.filter((p) => p === 2)).toHaveLength(4);
  });

  it('waits for a member that withholds its pieces once, and not again while it goes on', async () => {
    const aggregate = aggregateBytes(3_000);
    const summary = await summaryOf(aggregate, 3);
    const { ids, members, clock } = group(3, aggregate, { silent: new Set(['m0']) });
    const gatherAll = () =>
      Promise.all(ids.map((id) => members.get(id)?.gather.gather(ROUND, summary, ids, id)));
    const started = clock.now();
    const first = await gatherAll();
    for (const outcome of first) expect(outcome?.bytes).toEqual(aggregate);
    expect(first[1]?.fromRelay).toBe(2); // its own piece, and the silent member's
    expect(clock.now() - started).toBeGreaterThanOrEqual(1_000); // the wait, once
    const again = clock.now();
    const second = await gatherAll();
    for (const outcome of second) expect(outcome?.bytes).toEqual(aggregate);
    expect(clock.now() - again).toBeLessThan(200); // the withholder is not waited for
  });

  it('fails with ERR_AGGREGATE when the relay serves another piece than it named', async () => {
    const aggregate = aggregateBytes(1_000);
    const summary = await summaryOf(aggregate, 2);
    const { ids, members } = group(2, aggregate, {
      relayBytes: (p, bytes) => (p === 1 ? bytes.map((b) => b ^ 1) : bytes),
    });
    await expect(members.get('m1')?.gather.gather(ROUND, summary, ids, 'm1')).rejects.toMatchObject({
      code: 'ERR_AGGREGATE',
    });
  });

  it('holds pieces of its own round only, and at most an aggregate’s worth from one sender', () => {
    const aggregate = aggregateBytes(100);
    const { members } = group(2, aggregate);
    const gather = members.get('m0')?.gather as AggregateGather;
    gather.expect(ROUND);
    expect(gather.offer('m1', Uint8Array.of(1, 2, 3))).toBe(false); // not a piece: not taken
    const inbox = (gather as unknown as { inbox: Map<string, Map<number, unknown>> }).inbox;
    const piece = (round: number, index: number, bytes: number) =>
      encodeAggregatePiece({ round, index, count: 64, bytes: new Uint8Array(bytes) });
    // Pieces of later rounds cannot push this round's out: they are not kept at all.
    for (let round = ROUND + 1; round < ROUND + 1000; round++)
      expect(gather.offer('m1', piece(round, 0, 10))).toBe(true);
    expect(inbox.size).toBe(0);
    // From one sender, no more than an aggregate frame's bytes (100 here).
    for (let index = 0; index < 64; index++) gather.offer('m1', piece(ROUND, index, 30));
    expect(inbox.get('m1')?.size).toBe(3);
  });
});
