// Gathering a round's aggregate frame within the group (docs/ARCHITECTURE.md, "Everyone
// trains"). The relay's decision names the hash of the aggregate and of each of its pieces;
// this member fetches the pieces it owns (aggregate-piece.ts: every G-th, from its place in the
// sorted group) from the relay and passes each to the rest of the group, and takes the other
// pieces from the members that own them. Every piece is checked against the relay's hash before
// it is kept: a member that passes on other bytes is named in `refused` and its piece is
// fetched from the relay, as is any piece that has not come by the wait's end. So a volunteer
// receives the aggregate about once and sends its owned share of it to G − 1 members, whatever
// the number of volunteers, and nothing a peer sends can change what it applies.
import {
  type AggregatePiece,
  decodeAggregatePiece,
  encodeAggregatePiece,
  isAggregatePiece,
  ownedPieces,
} from '../../../protocol/aggregate-piece.ts';
import { CodedError } from '../../../protocol/coded-error.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';

type Summary = Extract<RelayMessage, { type: 'decision' }>['aggregate'];

export interface GatherNetwork {
  send(to: string, message: Uint8Array): Promise<void>;
  readonly connectedPeers: readonly string[];
}

export interface GatherRelay {
  aggregatePiece(round: number, index: number, count: number): Promise<Uint8Array>;
}

export interface GatherOutcome {
  readonly bytes: Uint8Array;
  /** Pieces this member took from the relay: its own, and any the group did not deliver. */
  readonly fromRelay: number;
  readonly fromPeers: number;
  /** Members that passed on a piece whose bytes differ from the relay's hash. */
  readonly refused: readonly string[];
}

/**
 * How long to wait for the group's pieces before fetching the rest from the relay: an honest
 * owner sends within a relay fetch and A/G × (G − 1) bytes of upload (well under a second on a
 * home line), and the wait must end before the relay opens the next round (gatherMs, 2 s).
 */
export const PIECE_WAIT_MS = 1_500;
const MAX_WITHHOLDING_KEPT = 256;

export class AggregateGather {
  /**
   * Pieces of the round this member is in, by sender and index, unchecked yet: one sender's junk
   * never hides another's good copy. Bounded: one round, the links (the mesh's cap), and at
   * most `maxBytesPerSender` from each (an owner sends less than one aggregate frame).
   */
  private inbox = new Map<string, Map<number, AggregatePiece>>();
  private readonly bytesFrom = new Map<string, number>();
  private round: number | null = null;
  /**
   * Owners that did not deliver within the wait last time: not waited for again (their pieces
   * come from the relay at once) until one of their pieces arrives in time. A member that
   * withholds its pieces costs its group one wait, not one every round.
   */
  private readonly withholding = new Set<string>();

  constructor(
    private readonly network: GatherNetwork,
    private readonly relay: GatherRelay,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> },
    /** The most aggregate bytes one sender may have held for it in a round. */
    private readonly maxBytesPerSender: number,
    private readonly waitMs = PIECE_WAIT_MS,
  ) {}

  /** The round this member was assigned: pieces of any other round are dropped from now on. */
  expect(round: number): void {
    if (this.round === round) return;
    this.round = round;
    this.inbox = new Map();
    this.bytesFrom.clear();
  }

  /** Takes a mesh message if it is an aggregate piece; false for anything else. Never throws. */
  offer(from: string, message: Uint8Array): boolean {
    if (!isAggregatePiece(message)) return false;
    const decoded = decodeAggregatePiece(message);
    // Malformed, or of a round this member is not in (a sender cannot make one "newer" and
    // push out the current round's pieces): dropped, as a wrong piece would be.
    if (!decoded.ok || decoded.value.round !== this.round) return true;
    const { index, bytes } = decoded.value;
    const held = this.bytesFrom.get(from) ?? 0;
    if (held + bytes.length > this.maxBytesPerSender) return true;
    this.bytesFrom.set(from, held + bytes.length);
    let pieces = this.inbox.get(from);
    if (!pieces) {
      pieces = new Map();
      this.inbox.set(from, pieces);
    }
    pieces.set(index, decoded.value);
    return true;
  }

  /** The round's aggregate frame, its whole hash checked; ERR_AGGREGATE if the relay's is wrong. */
  async gather(
    round: number,
    summary: Summary,
    group: readonly string[],
    self: string,
  ): Promise<GatherOutcome> {
    this.expect(round);
    const count = summary.pieces.length;
    const held = new Map<number, Uint8Array>();
    const refused = new Set<string>();
    let fromRelay = 0;
    let fromPeers = 0;
    const fetchFromRelay = async (index: number) => {
      const bytes = await this.relay.aggregatePiece(round, index, count);
      if ((await sha256Hex(bytes)) !== summary.pieces[index])
        throw new CodedError(
          'ERR_AGGREGATE',
          `the relay's piece ${index} of round ${round} is not the one it named`,
        );
      held.set(index, bytes);
      fromRelay++;
    };
    const position = group.indexOf(self);
    const others = group.filter((id) => id !== self);
    for (const index of position < 0 ? [] : ownedPieces(count, group.length, position)) {
      await fetchFromRelay(index);
      const message = encodeAggregatePiece({ round, index, count, bytes: held.get(index) as Uint8Array });
      for (const peer of others) void this.network.send(peer, message).catch(() => undefined);
    }
    // The owners' pieces, as they arrive; an owner not linked is not waited for.
    const ownerOf = (index: number) => group[index % group.length] as string;
    const waitUntil = this.clock.now() + this.waitMs;
    for (;;) {
      await this.takeArrived(round, summary, held, refused, () => fromPeers++);
      const missing = [...Array(count).keys()].filter((i) => !held.has(i));
      const awaited = missing.filter((i) => {
        const owner = ownerOf(i);
        return (
          owner !== self &&
          !refused.has(owner) &&
          !this.withholding.has(owner) &&
          this.network.connectedPeers.includes(owner)
        );
      });
      if (missing.length === 0 || awaited.length === 0 || this.clock.now() >= waitUntil) break;
      await this.clock.sleep(20);
    }
    const missing: number[] = [];
    for (let index = 0; index < count; index++) {
      const owner = ownerOf(index);
      if (held.has(index)) {
        if (owner !== self) this.withholding.delete(owner);
        continue;
      }
      if (owner !== self && this.network.connectedPeers.includes(owner)) this.withholding.add(owner);
      missing.push(index);
    }
    // What the group did not deliver, from the relay at once rather than one piece at a time.
    await Promise.all(missing.map(fetchFromRelay));
    // Ids of past groups' members: bounded all the same.
    if (this.withholding.size > MAX_WITHHOLDING_KEPT) this.withholding.clear();
    this.inbox = new Map();
    const bytes = new Uint8Array(summary.bytes);
    let offset = 0;
    for (let index = 0; index < count; index++) {
      const piece = held.get(index) as Uint8Array;
      if (offset + piece.length > bytes.length)
        throw new CodedError('ERR_AGGREGATE', `round ${round}'s pieces exceed ${summary.bytes} bytes`);
      bytes.set(piece, offset);
      offset += piece.length;
    }
    if (offset !== bytes.length || (await sha256Hex(bytes)) !== summary.hash)
      throw new CodedError(
        'ERR_AGGREGATE',
        `round ${round}'s aggregate does not hash to the one the relay named`,
      );
    return { bytes, fromRelay, fromPeers, refused: [...refused] };
  }

  /** Moves arrived pieces that match the relay's hashes into `held`; names the senders of others. */
  private async takeArrived(
    round: number,
    summary: Summary,
    held: Map<number, Uint8Array>,
    refused: Set<string>,
    counted: () => void,
  ): Promise<void> {
    if (round !== this.round) return;
    for (const [from, pieces] of this.inbox)
      for (const [index, piece] of [...pieces]) {
        pieces.delete(index);
        if (held.has(index)) continue;
        if (
          piece.count === summary.pieces.length &&
          (await sha256Hex(piece.bytes)) === summary.pieces[index]
        ) {
          held.set(index, piece.bytes);
          counted();
        } else refused.add(from);
      }
  }
}
