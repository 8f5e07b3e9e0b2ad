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

/** Pieces one asker may take of one held state: twice over, enough for retries, no more. */
const SERVES_PER_ASKER = 2;
/** Askers remembered per held state (each a count): bounded whatever the swarm does. */
const MAX_ASKERS = 256;

export class StateExchange {
  private held: { tree: StateTree; bytes: Uint8Array } | null = null;
  private readonly served = new Map<string, number>();
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
    if (index >= held.tree.pieceCount) return;
    const count = this.served.get(from) ?? 0;
    if (count >= SERVES_PER_ASKER * held.tree.pieceCount) return;
    if (!this.served.has(from) && this.served.size >= MAX_ASKERS) return;
    this.served.set(from, count + 1);
    const piece = encodeStatePiece({
      root: held.tree.root,
      index,
      proof: proofFor(held.tree, index),
      bytes: pieceAt(held.bytes, index, held.tree.pieceBytes),
    });
    void this.network.send(from, piece).catch(() => undefined);
  }
}
