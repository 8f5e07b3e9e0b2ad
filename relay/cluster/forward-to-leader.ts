// On a relay of a cluster that does not lead the run, the routes that need the coordinator's
// memory (the open round's uploads, the last round's frames and aggregate, the committed state's
// pieces, the run's live summary) are answered by the leading relay, through the bus. The rest
// (pages, the dataset and its shards, checkpoints, the ledger) every relay serves itself.
import type { Context, MiddlewareHandler } from 'hono';
import { FORWARDED_HEADER } from './cluster-node.ts';

/** `/api/runs`, `/api/runs/:id`, `/api/runs/:id/cooldown`, and anything under `.../rounds/` or `/state/`. */
const LEADER_ROUTE = /^\/api\/runs(\/?|\/[^/]+\/?|\/[^/]+\/cooldown|\/[^/]+\/(rounds|state)\/.*)$/;

export function isLeaderRoute(path: string): boolean {
  return LEADER_ROUTE.test(path);
}

/**
 * Requests this relay has passed to the leader and not yet had answered: in all, in request
 * bytes, and from one client address. Each one costs the database its body and its answer (a
 * state piece is 256 KiB, a state upload up to 10 MB) and the leader its work, however soon the
 * client hangs up: without a bound, a few KB of abandoned requests made the leader hold
 * gigabytes (an outside attack). A volunteer has at most a few requests in flight (pieces in
 * parallel), so its share fits; a relay's thousand volunteers uploading a round's frames at once
 * (a few KB to 80 KB each) need the count in the hundreds, which the byte bound keeps from
 * meaning hundreds of 10 MB state uploads.
 */
export const FORWARD_LIMITS = { inFlight: 256, inFlightBytes: 64 * 2 ** 20, inFlightPerAddress: 4 } as const;
/**
 * A body must have arrived whole by then. It is read before the request counts against the
 * bounds above: uploads trickling in a byte at a time held every slot of a follower for minutes
 * and no honest upload got through (an outside attack); while they trickle they hold only
 * their own socket, and the bytes they sent (each body is capped by its route's limit).
 */
export const BODY_READ_MS = 30_000;

export interface ForwardOptions {
  /** Whether this relay leads the run now. */
  readonly leading: () => boolean;
  /** Passes `request` on, with its body already read (null for a GET). */
  readonly forward: (request: Request, body: Uint8Array | null) => Promise<Response>;
  /** Who sent the request (its address, or the trusted proxy header's): its share of the bound. */
  readonly clientOf: (c: Context) => string;
  /** How long a body may take to arrive (BODY_READ_MS). */
  readonly bodyReadMs?: number;
  readonly limits?: {
    readonly inFlight: number;
    readonly inFlightBytes: number;
    readonly inFlightPerAddress: number;
  };
}

export function forwardToLeader(options: ForwardOptions): MiddlewareHandler {
  const limits = options.limits ?? FORWARD_LIMITS;
  let inFlight = 0;
  let inFlightBytes = 0;
  const byClient = new Map<string, number>();
  return async function forwardLeaderRoutes(c, next) {
    if (options.leading() || !isLeaderRoute(c.req.path)) return next();
    // Forwarded once: a relay that lost the lease since does not bounce it on.
    if (c.req.header(FORWARDED_HEADER))
      return c.json({ error: { code: 'ERR_NO_LEADER', message: 'this relay no longer leads the run' } }, 503);
    const hasBody = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    const readMs = options.bodyReadMs ?? BODY_READ_MS;
    const body = hasBody ? await readBody(c.req.raw, readMs) : null;
    if (body === 'late')
      return c.json(
        {
          error: {
            code: 'ERR_BODY_TIMEOUT',
            message: `the request body did not arrive within ${readMs / 1000} s`,
          },
        },
        408,
      );
    const client = options.clientOf(c);
    const mine = byClient.get(client) ?? 0;
    const bytes = body?.byteLength ?? 0;
    const full =
      mine >= limits.inFlightPerAddress
        ? `${mine} requests of this address`
        : inFlight >= limits.inFlight
          ? `${inFlight} requests`
          : inFlightBytes + bytes > limits.inFlightBytes && inFlight > 0
            ? `${inFlightBytes} bytes of requests`
            : null;
    if (full !== null) {
      c.header('retry-after', '1');
      return c.json(
        {
          error: {
            code: 'ERR_FORWARD_BUSY',
            message: `this relay has ${full} waiting on the leading relay; retry shortly`,
          },
        },
        503,
      );
    }
    inFlight++;
    inFlightBytes += bytes;
    byClient.set(client, mine + 1);
    try {
      return await options.forward(c.req.raw, body);
    } finally {
      inFlight--;
      inFlightBytes -= bytes;
      const left = (byClient.get(client) ?? 1) - 1;
      if (left <= 0) byClient.delete(client);
      else byClient.set(client, left);
    }
  };
}

/** The whole body, or 'late' (its stream cancelled) when it has not arrived within `ms`. */
async function readBody(request: Request, ms: number): Promise<Uint8Array | 'late'> {
  const reader = request.body?.getReader();
  if (!reader) return new Uint8Array(0);
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => undefined); // ends the read under way with done
  }, ms);
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (late) return 'late';
      if (done) return Buffer.concat(chunks);
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
}
