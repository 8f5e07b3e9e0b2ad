// CORS on the relay's /api/*: a run may be served by several relays, and a tab served by one fails
// over to another (web/src/peer/relay-rotation.ts), whose API is then another origin's. Any origin
// may read it because nothing there rests on ambient authority: the relay sets no cookies and
// reads no credentials, a frame upload is authenticated by the Ed25519 claim in its header, and
// everything else is public. Credentials stay off (no Access-Control-Allow-Credentials), so a
// browser never attaches cookies of the relay's site to these requests. The Fetch standard's CORS
// protocol: https://fetch.spec.whatwg.org/#http-cors-protocol.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import {
  CHECKPOINT_HASH_HEADER,
  CHECKPOINT_ROUND_HEADER,
  FRAME_CLAIM_HEADER,
} from '../../protocol/run-api.ts';

/** How long a browser may keep a preflight's answer, seconds. */
export const API_PREFLIGHT_MAX_AGE_S = 600;

/** The /api/* CORS middleware: mount it before the routes (and before the body limit, so a 413 reads). */
export function relayApiCors(): MiddlewareHandler {
  return cors({
    origin: '*',
    allowMethods: ['GET', 'HEAD', 'PUT', 'OPTIONS'],
    // What web/src/peer/relay-api.ts sends beyond the CORS-safelisted: an octet-stream body, the
    // frame's signed claim, byte ranges of a shard (safelisted only in their simplest form).
    allowHeaders: ['content-type', 'range', 'if-none-match', FRAME_CLAIM_HEADER],
    // What it reads beyond the safelisted response headers: which state a checkpoint holds.
    exposeHeaders: [
      CHECKPOINT_HASH_HEADER,
      CHECKPOINT_ROUND_HEADER,
      'content-range',
      'accept-ranges',
      'etag',
    ],
    maxAge: API_PREFLIGHT_MAX_AGE_S,
  });
}
