// Fetching a committed state in pieces from several peers at once (protocol/state-tree.ts),
// each piece checked against the root the relay committed as it arrives, with the relay as the
// fallback: a joiner's download leans on the peers that hold the state, not on the relay's
// uplink. A source whose piece fails its proof, or that fails to answer, is dropped for the rest
// of the fetch; its pieces go to the others. Nothing unverified is ever kept.
import { piecesIn, type TreeShape, verifyPiece } from '../../../protocol/state-tree.ts';

/** Where pieces can come from: a peer holding the state, or the relay. */
export interface PieceSource {
  readonly name: string;
  /** Piece `index` and its proof; rejects when the source cannot give it. */
  piece(index: number): Promise<{ readonly bytes: Uint8Array; readonly proof: unknown }>;
}

export interface FetchReport {
  readonly bytes: Uint8Array;
  /** Verified pieces per source name. */
  readonly piecesFrom: ReadonlyMap<string, number>;
  /** Sources dropped, with why. */
  readonly dropped: ReadonlyMap<string, string>;
}

export interface FetchOptions {
  /** Pieces asked of one source at a time. */
  readonly perSource?: number;
  /** A piece not in by then counts as a failure of its source. */
  readonly pieceTimeoutMs?: number;
  readonly onProgress?: (verifiedPieces: number, pieceCount: number) => void;
}

export class StateFetchError extends Error {
  readonly code = 'ERR_STATE_FETCH';
}

/**
 * Every piece of the state `shape` names, from `peers` first and `relay` only for pieces no peer
 * could give. Resolves with the whole file, or rejects with ERR_STATE_FETCH when even the relay
 * fails a piece.
 */
export async function fetchState(
  shape: TreeShape,
  peers: readonly PieceSource[],
  relay: PieceSource,
  options: FetchOptions = {},
): Promise<FetchReport> {
  const perSource = options.perSource ?? 2;
  const timeoutMs = options.pieceTimeoutMs ?? 15_000;
  const count = piecesIn(shape.totalBytes, shape.pieceBytes);
  const out = new Uint8Array(shape.totalBytes);
  const piecesFrom = new Map<string, number>();
  const dropped = new Map<string, string>();
  const waiting = Array.from({ length: count }, (_, i) => i);
  let verified = 0;

  // Pieces asked of a source and not yet in: one may come back to the queue (its source failed),
  // so a worker that finds the queue empty waits for them before it stops.
  let inFlight = 0;
  let changed = signal();
  /** One source takes pieces off the queue until all are in or the source is dropped. */
  const worker = async (source: PieceSource) => {
    while (!dropped.has(source.name)) {
      const index = waiting.shift();
      if (index === undefined) {
        if (inFlight === 0) return;
        await changed.promise;
        continue;
      }
      inFlight++;
      const problem = await take(source, index);
      inFlight--;
      if (problem !== null) {
        if (!dropped.has(source.name)) dropped.set(source.name, problem);
        waiting.push(index); // another source gives it
      }
      const done = changed;
      changed = signal();
      done.resolve();
    }
  };
  const take = async (source: PieceSource, index: number): Promise<string | null> => {
    let answer: { bytes: Uint8Array; proof: unknown };
    try {
      answer = await withTimeout(source.piece(index), timeoutMs, `no answer in ${timeoutMs} ms`);
    } catch (error) {
      return `piece ${index}: ${error instanceof Error ? error.message : String(error)}`;
    }
    const verdict = await verifyPiece(shape, index, answer.bytes, answer.proof);
    if (!verdict.ok) return verdict.error.message;
    out.set(answer.bytes, index * shape.pieceBytes);
    piecesFrom.set(source.name, (piecesFrom.get(source.name) ?? 0) + 1);
    verified++;
    options.onProgress?.(verified, count);
    return null;
  };

  await Promise.all(peers.flatMap((peer) => Array.from({ length: perSource }, () => worker(peer))));
  // Whatever the peers could not give comes from the relay, which must give it.
  for (let index = waiting.shift(); index !== undefined; index = waiting.shift()) {
    const problem = await take(relay, index);
    if (problem !== null) throw new StateFetchError(`ERR_STATE_FETCH: the relay failed too: ${problem}`);
  }
  return { bytes: out, piecesFrom, dropped };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
