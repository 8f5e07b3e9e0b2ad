// Minting an identity stamp (protocol/identity-stamp.ts): 2^bits hashes expected, searched a
// slice at a time so the thread doing it (the page's worker, the Node volunteer's event loop)
// can report progress and be cancelled between slices. Never run it on a page's UI thread.
import { searchStamp } from '../../../protocol/identity-stamp.ts';

export interface MintOptions {
  /** Counters hashed per slice. 2^16 is ~40 ms on one slow core. */
  readonly slice?: number;
  /** After each slice: counters tried so far (2^bits expected in all). */
  readonly onProgress?: (tried: number) => void;
  /** Gives other work a turn between slices; the default waits one macrotask. */
  readonly yieldTurn?: () => Promise<void>;
  readonly signal?: AbortSignal;
}

/** A counter whose stamp for `publicKey` on `runId` reaches `bits` zero bits. */
export async function mintStamp(
  runId: string,
  publicKey: string,
  bits: number,
  options: MintOptions = {},
): Promise<string> {
  const slice = options.slice ?? 1 << 16;
  const yieldTurn = options.yieldTurn ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
  for (let from = 0; ; from += slice) {
    options.signal?.throwIfAborted();
    const found = searchStamp(runId, publicKey, bits, { from, count: slice });
    if (found !== null) return found;
    options.onProgress?.(from + slice);
    await yieldTurn();
  }
}
