// On a relay of a cluster that does not lead the run, the routes that need the coordinator's
// memory (the open round's uploads, the last round's frames and aggregate, the committed state's
// pieces, the run's live summary) are answered by the leading relay, through the bus. The rest
// (pages, the dataset and its shards, checkpoints, the ledger) every relay serves itself.
import type { Context, MiddlewareHandler } from 'hono';
import { FORWARDED_HEADER } from './cluster-node.ts';

/** `/api/runs`, `/api/runs/:id`, and anything under `/api/runs/:id/rounds/` or `/state/`. */
const LEADER_ROUTE = /^\/api\/runs(\/?|\/[^/]+\/?|\/[^/]+\/(rounds|state)\/.*)$/;

export function isLeaderRoute(path: string): boolean {
  return LEADER_ROUTE.test(path);
}

/**
 * Requests this relay has passed to the leader and not yet had answered, in all and from one
 * client address. Each one costs the database its body and its answer (a state piece is 256 KiB,
 * a state upload up to 10 MB) and the leader its work, however soon the client hangs up: without
 * a bound, a few KB of abandoned requests made the leader hold gigabytes (an outside attack).
 * A volunteer has at most a few requests in flight (pieces in parallel), so its share fits.
 */
export const FORWARD_LIMITS = { inFlight: 64, inFlightPerAddress: 4 } as const;

export interface ForwardOptions {
  /** Whether this relay leads the run now. */
  readonly leading: () => boolean;
  readonly forward: (request: Request) => Promise<Response>;
  /** Who sent the request (its address, or the trusted proxy header's): its share of the bound. */
  readonly clientOf: (c: Context) => string;
  readonly limits?: { readonly inFlight: number; readonly inFlightPerAddress: number };
}

export function forwardToLeader(options: ForwardOptions): MiddlewareHandler {
  const limits = options.limits ?? FORWARD_LIMITS;
  let inFlight = 0;
  const byClient = new Map<string, number>();
  return async function forwardLeaderRoutes(c, next) {
    if (options.leading() || !isLeaderRoute(c.req.path)) return next();
    // Forwarded once: a relay that lost the lease since does not bounce it on.
    if (c.req.header(FORWARDED_HEADER))
      return c.json({ error: { code: 'ERR_NO_LEADER', message: 'this relay no longer leads the run' } }, 503);
    const client = options.clientOf(c);
    const mine = byClient.get(client) ?? 0;
    if (inFlight >= limits.inFlight || mine >= limits.inFlightPerAddress) {
      c.header('retry-after', '1');
      return c.json(
        {
          error: {
            code: 'ERR_FORWARD_BUSY',
            message: `this relay has ${mine >= limits.inFlightPerAddress ? `${mine} requests of this address` : `${inFlight} requests`} waiting on the leading relay; retry shortly`,
          },
        },
        503,
      );
    }
    inFlight++;
    byClient.set(client, mine + 1);
    try {
      return await options.forward(c.req.raw);
    } finally {
      inFlight--;
      const left = (byClient.get(client) ?? 1) - 1;
      if (left <= 0) byClient.delete(client);
      else byClient.set(client, left);
    }
  };
}
