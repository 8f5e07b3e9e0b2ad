// A volunteer that joins or falls behind gets the committed state (docs/ARCHITECTURE.md, "Joining
// from peers"): from the members the relay named as holders, in pieces from several at once,
// each checked against the relay's root, the relay giving only what they do not; from the
// relay's whole checkpoint when the resync names no holders or none can be reached.
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import type { RelayApi } from './relay-api.ts';
import type { StateExchange } from './state-exchange.ts';
import { fetchState } from './state-fetch.ts';
import type { FrameNetwork } from './volunteer.ts';

export type ResyncState = NonNullable<Extract<RelayMessage, { type: 'resync' }>['state']>;

export interface CatchUpDeps {
  readonly network: FrameNetwork;
  readonly relay: RelayApi;
  readonly exchange: StateExchange;
  readonly self: string;
  /** This volunteer's group: links to its members stay up after the fetch. */
  readonly group: readonly string[];
  readonly status: (text: string) => void;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly stopped: () => boolean;
}

/** How long a volunteer catching up waits for a link to one of the holders the relay named. */
const HOLDER_LINK_WAIT_MS = 5_000;
/** After the first holder's link is up, how long to wait for more to share the pieces. */
const MORE_HOLDERS_WAIT_MS = 1_500;
/** A holder that has not sent a piece by then is dropped; the others (or the relay) send it. */
const STATE_PIECE_TIMEOUT_MS = 10_000;
/** How often to look for the relay's checkpoint of a hash it has not stored yet. */
const STATE_RETRY_MS = 2_000;
const STATE_RETRIES = 30;

/** The committed state file with `hash`; throws when neither peers nor the relay give it. */
export async function catchUp(deps: CatchUpDeps, hash: string, state?: ResyncState): Promise<Uint8Array> {
  return (state && (await stateFromPeers(deps, state))) ?? (await stateFromRelay(deps, hash));
}

/** Null when no holder could be reached: then the whole file comes from the relay. */
async function stateFromPeers(deps: CatchUpDeps, state: ResyncState): Promise<Uint8Array | null> {
  const { network, relay, exchange, now } = deps;
  const holders = state.holders.filter((peer) => peer !== deps.self);
  // Holders outside the group, as many as the mesh's cap leaves room to want.
  const temporary = holders
    .filter((peer) => !deps.group.includes(peer))
    .slice(0, network.wantedRoom ?? Number.POSITIVE_INFINITY);
  network.connect(temporary);
  try {
    // Until every holder is linked, or a moment after the first one is (so the pieces are
    // spread over several), or the wait runs out.
    let until = now() + HOLDER_LINK_WAIT_MS;
    let first = true;
    for (;;) {
      const up = holders.filter((p) => network.connectedPeers.includes(p)).length;
      if (up === holders.length || now() >= until || deps.stopped()) break;
      if (up > 0 && first) {
        first = false;
        until = Math.min(until, now() + MORE_HOLDERS_WAIT_MS);
      }
      await deps.sleep(50);
    }
    const linked = holders.filter((p) => network.connectedPeers.includes(p));
    if (linked.length === 0) return null;
    const report = await fetchState(
      { root: state.root, totalBytes: state.bytes, pieceBytes: state.pieceBytes },
      linked.map((peer) => exchange.source(peer, state.root)),
      { name: 'relay', piece: (index) => relay.statePiece(state.root, index) },
      {
        pieceTimeoutMs: STATE_PIECE_TIMEOUT_MS,
        onProgress: (verified, count) =>
          deps.status(
            `fetching the committed weights from ${linked.length} peers: ${verified}/${count} pieces`,
          ),
      },
    );
    const sources = [...report.piecesFrom].map(
      ([from, n]) => `${n} from ${from === 'relay' ? 'the relay' : `${from.slice(0, 8)}…`}`,
    );
    const dropped = report.dropped.size > 0 ? `; dropped ${report.dropped.size} peer(s)` : '';
    deps.status(`fetched the committed weights: ${sources.join(', ')}${dropped}`);
    return report.bytes;
  } finally {
    exchange.forget();
    for (const peer of temporary) if (!deps.group.includes(peer)) network.release(peer);
  }
}

async function stateFromRelay(deps: CatchUpDeps, hash: string): Promise<Uint8Array> {
  let bytes: Uint8Array | null = null;
  for (let attempt = 0; !bytes && attempt < STATE_RETRIES && !deps.stopped(); attempt++) {
    bytes = await deps.relay.state(hash, (received, total) =>
      deps.status(
        `downloading the committed weights: ${total > 0 ? `${Math.round((100 * received) / total)}%` : `${received} bytes`}`,
      ),
    );
    if (!bytes) await deps.sleep(STATE_RETRY_MS); // the relay has not stored it yet
  }
  if (!bytes) throw new Error(`the committed state ${hash.slice(0, 12)} is not available`);
  return bytes;
}
