// Committed states between peers (docs/ARCHITECTURE.md, "Joining from peers"). A volunteer that
// holds the committed state answers other members' requests for its pieces, with each piece's
// proof (protocol/state-tree.ts), and a volunteer that must catch up asks the holders the relay
// named. What a holder sends is checked against the relay's root by the asker (state-fetch.ts),
// so a holder can waste an asker's time, never give it another state.
import {
  decodeStatePiece,
  decodeStateRequest,
  encodeStatePiece,
  encodeStateRequest,
  isStatePiece,
  isStateRequest,
} from '../../../protocol/state-piece-message.ts';
import { pieceAt, proofFor, type StateTree, stateTree } from '../../../protocol/state-tree.ts';
import type { PieceSource } from './state-fetch.ts';

export interface ExchangeNetwork {
  send(to: string, message: Uint8Array): Promise<void>;
}

/** Times one asker may take one piece of a held state: once, and once more for a retry. */
const SERVES_PER_PIECE = 2;
/** Pieces one asker may take of a held state in all: one whole state. */
const STATES_PER_ASKER = 1;
/**
 * Pieces served in all per held state, in whole states: what requests (44 bytes each) can make
 * a holder upload is bounded per round (~13 MB for the default model) whatever askers do. Honest
 * joiners each ask a holder for a share of the pieces only (the relay names up to 8 holders), so
 * this still serves several of them a round; the rest go to other holders, or to the relay.
 */
const STATES_SERVED = 2;
/**
 * A request for a state this holder does not hold yet is kept this long: the relay names the
 * holders of a new state the moment it commits it, before they have applied it, and a
 * volunteer catching up asks at once. Bounded in count, and per asker.
 */
const EARLY_REQUEST_MS = 30_000;
const MAX_EARLY_REQUESTS = 1_024;
const MAX_EARLY_PER_ASKER = 64;

export class StateExchange {
  private held: { tree: StateTree; bytes: Uint8Array } | null = null;
  /** Pieces served per asker and piece, for the held state. */
  private readonly served = new Map<string, number>();
  private readonly servedTo = new Map<string, number>();
  private servedTotal = 0;
  /** Requests for states not held yet, answered when one of them is (EARLY_REQUEST_MS). */
  private early: { from: string; root: string; index: number; at: number }[] = [];
  private readonly pending = new Map<string, (piece: { bytes: Uint8Array; proof: unknown }) => void>();

  constructor(
    private readonly network: ExchangeNetwork,
    private readonly now: () => number = Date.now,
  ) {}

  /** The tree root of the state this volunteer serves, if any. */
  get root(): string | null {
    return this.held?.tree.root ?? null;
  }

  /** Serve `bytes` (the committed state file this volunteer holds) from now on. */
  async hold(bytes: Uint8Array): Promise<void> {
    this.held = { tree: await stateTree(bytes), bytes };
    this.served.clear();
    this.servedTo.clear();
    this.servedTotal = 0;
    const root = this.held.tree.root;
    const fresh = this.early.filter((r) => this.now() - r.at < EARLY_REQUEST_MS);
    this.early = fresh.filter((r) => r.root !== root);
    for (const r of fresh) if (r.root === root) this.serve(r.from, r.index);
  }

  /** Takes a mesh message if it is a state request or piece; false for anything else. Never throws. */
  offer(from: string, message: Uint8Array): boolean {
    if (isStateRequest(message)) {
      this.answer(from, message);
      return true;
    }
    if (!isStatePiece(message)) return false;
    const decoded = decodeStatePiece(message);
    if (!decoded.ok) return true;
    const { root, index, bytes, proof } = decoded.value;
    const key = `${from}:${root}:${index}`;
    const resolve = this.pending.get(key);
    this.pending.delete(key);
    resolve?.({ bytes, proof });
    return true;
  }

  /** Pieces of the state with `root`, asked of `peer` over the mesh (unanswered: fetchState times out). */
  source(peer: string, root: string): PieceSource {
    return {
      name: peer,
      piece: (index) =>
        new Promise((resolve, reject) => {
          this.pending.set(`${peer}:${root}:${index}`, resolve);
          this.network.send(peer, encodeStateRequest({ root, index })).catch(reject);
        }),
    };
  }

  /** Stops waiting for pieces (the fetch is over). */
  forget(): void {
    this.pending.clear();
  }

  private answer(from: string, message: Uint8Array): void {
    const decoded = decodeStateRequest(message);
    if (!decoded.ok) return;
    const { root, index } = decoded.value;
    if (this.held?.tree.root === root) {
      this.serve(from, index);
      return;
    }
    // Perhaps the state this holder is about to hold: kept a while, within bounds.
    const now = this.now();
    this.early = this.early.filter((r) => now - r.at < EARLY_REQUEST_MS);
    if (this.early.length >= MAX_EARLY_REQUESTS) return;
    if (this.early.filter((r) => r.from === from).length >= MAX_EARLY_PER_ASKER) return;
    this.early.push({ from, root, index, at: now });
  }

  /** Piece `index` of the held state to `from`, within the budgets. */
  private serve(from: string, index: number): void {
    const held = this.held;
    if (!held) return;
    const pieces = held.tree.pieceCount;
    if (index >= pieces || this.servedTotal >= STATES_SERVED * pieces) return;
    const key = `${from}:${index}`;
    const count = this.served.get(key) ?? 0;
    const toAsker = this.servedTo.get(from) ?? 0;
    if (count >= SERVES_PER_PIECE || toAsker >= STATES_PER_ASKER * pieces) return;
    this.served.set(key, count + 1);
    this.servedTo.set(from, toAsker + 1);
    this.servedTotal++;
    const piece = encodeStatePiece({
      root: held.tree.root,
      index,
      proof: proofFor(held.tree, index),
      bytes: pieceAt(held.bytes, index, held.tree.pieceBytes),
    });
    void this.network.send(from, piece).catch(() => undefined);
  }
}
