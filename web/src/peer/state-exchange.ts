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
/**
 * Pieces served in all per held state, in whole states: what a request (44 bytes) can make a
 * holder upload is bounded per round whatever askers do, and still serves dozens of honest
 * joiners, who each ask a holder for a share of the pieces only.
 */
const STATES_SERVED = 8;

export class StateExchange {
  private held: { tree: StateTree; bytes: Uint8Array } | null = null;
  /** Pieces served per asker and piece, for the held state. */
  private readonly served = new Map<string, number>();
  private servedTotal = 0;
  private readonly pending = new Map<string, (piece: { bytes: Uint8Array; proof: unknown }) => void>();

  constructor(private readonly network: ExchangeNetwork) {}

  /** The tree root of the state this volunteer serves, if any. */
  get root(): string | null {
    return this.held?.tree.root ?? null;
  }

  /** Serve `bytes` (the committed state file this volunteer holds) from now on. */
  async hold(bytes: Uint8Array): Promise<void> {
    this.held = { tree: await stateTree(bytes), bytes };
    this.served.clear();
    this.servedTotal = 0;
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
    const held = this.held;
    if (!decoded.ok || !held || decoded.value.root !== held.tree.root) return;
    const { index } = decoded.value;
    if (index >= held.tree.pieceCount || this.servedTotal >= STATES_SERVED * held.tree.pieceCount) return;
    const key = `${from}:${index}`;
    const count = this.served.get(key) ?? 0;
    if (count >= SERVES_PER_PIECE) return;
    this.served.set(key, count + 1);
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
