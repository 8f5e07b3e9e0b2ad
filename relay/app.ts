// The relay's HTTP side as a Hono app, apart from any server: tests call
// `app.request()` without a port, and relay/server.ts serves it and routes WebSocket
// upgrades (`/swarm`, `/signal`) next to it. The only large bodies are round frames (bounded
// by the run's frame size, and checked by the coordinator) and the checkpoints and shards the
// relay serves.
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Registry } from 'prom-client';
import type { ErrorBody } from '../protocol/http-body.ts';
import type { HealthBody } from '../protocol/run-api.ts';
import { type ForwardOptions, forwardToLeader } from './cluster/forward-to-leader.ts';
import { relayApiCors } from './http/api-cors.ts';
import { cooldownRoutes } from './http/cooldown-routes.ts';
import { ledgerRoutes } from './http/ledger-routes.ts';
import { runRoutes } from './http/run-routes.ts';
import { relaySecurityHeaders } from './http/security-headers.ts';
import type { RelayRun } from './run/relay-run.ts';

export interface AppOptions {
  readonly run: RelayRun;
  readonly metrics: Registry;
  /** The built web app (dist/web), or null when only the API is served. */
  readonly webDir: string | null;
  /** What operator actions must bear (http/operator-token.ts); absent: none is allowed. */
  readonly operatorToken?: string | null;
  /** Several relays on one run: the leader's routes, answered by the leader (cluster/). */
  readonly cluster?: ForwardOptions & {
    /** Volunteers connected to this relay. */
    readonly peers: () => number;
    readonly relayId: string;
    /** The live relays' public addresses (the page's CSP allows them). */
    readonly relayUrls: () => readonly string[];
  };
}

export function createApp(options: AppOptions): Hono {
  const { run, metrics, webDir } = options;
  const app = new Hono();
  // The page may talk to another relay of its run than the one that served it (cluster/).
  app.use(
    '*',
    relaySecurityHeaders(() => options.cluster?.relayUrls() ?? []),
  );
  // Answered before the body limit and the forwarding, so preflights stay local and 413s readable.
  app.use('/api/*', relayApiCors());
  // Only frame and checked-state uploads carry a body of any size, each no more than its format
  // allows; the rest is small.
  app.use('/api/*', async function limitBodies(c, next) {
    const isPut = c.req.method === 'PUT';
    const isFrame = isPut && /\/rounds\/[^/]+\/frames\/[^/]+$/.test(c.req.path);
    const isLocalState = isPut && /\/rounds\/[^/]+\/local-state\/[^/]+$/.test(c.req.path);
    const maxSize = isFrame ? run.maxFrameBytes : isLocalState ? run.maxLocalStateBytes : 16 * 1024;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new HTTPException(413, { message: `request body above ${maxSize} bytes` });
      },
    })(c, next);
  });

  const cluster = options.cluster;
  if (cluster) {
    const forward = forwardToLeader(cluster); // one instance: one bound for both patterns
    app.use('/api/runs', forward);
    app.use('/api/runs/*', forward);
  }
  // This relay's own health: in a cluster, its volunteers, not the run's.
  app.get('/healthz', async (c) =>
    c.json({
      ok: true,
      runId: run.id,
      committedRound: (await run.lastCommitted()).round,
      peers: cluster ? cluster.peers() : run.coordinator.connectedPeers,
      leading: run.leading,
      ...(cluster && { relayId: cluster.relayId }),
    } satisfies HealthBody),
  );
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.contentType);
    return c.body(await metrics.metrics());
  });
  app.route('/api/runs', runRoutes(run));
  app.route('/api/runs', cooldownRoutes(run, options.operatorToken ?? null));
  app.route('/api', ledgerRoutes(run));

  if (webDir) {
    app.get('/leaderboard', serveStatic({ root: webDir, path: 'leaderboard.html' }));
    app.use('/*', serveStatic({ root: webDir }));
  }

  app.notFound((c) =>
    c.json(
      { error: { code: 'ERR_NOT_FOUND', message: `no route for ${c.req.path}` } } satisfies ErrorBody,
      404,
    ),
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException)
      return c.json(
        { error: { code: `ERR_HTTP_${error.status}`, message: error.message } } satisfies ErrorBody,
        error.status,
      );
    run.log.error({ err: error, path: c.req.path }, 'request failed');
    return c.json(
      { error: { code: 'ERR_INTERNAL', message: 'the relay could not answer' } } satisfies ErrorBody,
      500,
    );
  });
  return app;
}
