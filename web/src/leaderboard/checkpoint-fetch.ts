// The run's newest checkpoint, fetched only when it is not the one already held: the relay's
// ETag is the model hash (relay/http/run-routes.ts), so a request naming the held hash in
// If-None-Match is answered 304 with no body (RFC 9110, section 13.1.2). The browser's own
// cache is bypassed so that a 304 reaches us as a 304 rather than as a copy from the cache.
import { CHECKPOINT_HASH_HEADER, CHECKPOINT_ROUND_HEADER } from '../../../protocol/run-api.ts';
import { checkpointUrl } from './public-api.ts';

export type CheckpointFetch =
  | { readonly kind: 'unchanged' }
  | {
      readonly kind: 'fetched';
      readonly bytes: Uint8Array;
      readonly round: number;
      readonly modelHash: string;
    };

/** The checkpoint, or 'unchanged' when its model hash is `heldHash`. Throws on HTTP errors. */
export async function fetchCheckpoint(
  runId: string,
  heldHash: string | null,
  fetchImpl: typeof fetch = fetch,
): Promise<CheckpointFetch> {
  const path = checkpointUrl(runId);
  const headers: Record<string, string> = heldHash === null ? {} : { 'if-none-match': `"${heldHash}"` };
  const response = await fetchImpl(path, { cache: 'no-store', headers });
  if (response.status === 304) return { kind: 'unchanged' };
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return {
    kind: 'fetched',
    bytes: new Uint8Array(await response.arrayBuffer()),
    round: Number(response.headers.get(CHECKPOINT_ROUND_HEADER)),
    modelHash: response.headers.get(CHECKPOINT_HASH_HEADER) ?? '',
  };
}
