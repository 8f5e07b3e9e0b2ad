// On a relay of a cluster that does not lead the run, the routes that need the coordinator's
// memory (the open round's uploads, the last round's frames and aggregate, the committed state's
// pieces, the run's live summary) are answered by the leading relay, through the bus. The rest
// (pages, the dataset and its shards, checkpoints, the ledger) every relay serves itself.
import type { MiddlewareHandler } from 'hono';
import { FORWARDED_HEADER } from './cluster-node.ts';

/** `/api/runs`, `/api/runs/:id`, and anything under `/api/runs/:id/rounds/` or `/state/`. */
const LEADER_ROUTE = /^\/api\/runs(\/?|\/[^/]+\/?|\/[^/]+\/(rounds|state)\/.*)$/;

export function isLeaderRoute(path: string): boolean {
  return LEADER_ROUTE.test(path);
}

export interface ForwardOptions {
  /** Whether this relay leads the run now. */
  readonly leading: () => boolean;
  readonly forward: (request: Request) => Promise<Response>;
}

export function forwardToLeader(options: ForwardOptions): MiddlewareHandler {
  return async function forwardLeaderRoutes(c, next) {
    if (options.leading() || !isLeaderRoute(c.req.path)) return next();
    // Forwarded once: a relay that lost the lease since does not bounce it on.
    if (c.req.header(FORWARDED_HEADER))
      return c.json({ error: { code: 'ERR_NO_LEADER', message: 'this relay no longer leads the run' } }, 503);
    return options.forward(c.req.raw);
  };
}
