// Starts a relay: the database and ledger, the dataset, the run, the Hono app on a Node HTTP
// server, and the WebSocket endpoints routed by path on that same port (`/swarm`, `/signal`).
// Returns a handle whose close() shuts everything down in order, for tests and for SIGTERM.
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { RunConfig } from '../protocol/run-config.ts';
import { createApp } from './app.ts';
import { type Clock, systemClock } from './clock.ts';
import { openDataset } from './datasets/open-dataset.ts';
import { routeUpgrades } from './http/upgrade-route.ts';
import { type IceConfig, iceServersFor, NO_ICE } from './ice-servers.ts';
import { Ledger } from './ledger/ledger.ts';
import { loadOrCreateRelayKey } from './ledger/relay-signer.ts';
import type { Sql } from './ledger/sql.ts';
import { openPglite } from './ledger/sql-pglite.ts';
import { openPostgres } from './ledger/sql-postgres.ts';
import type { Logger } from './logger.ts';
import { createRelayMetrics, observeRun } from './metrics.ts';
import type { CommitRecord } from './rounds/coordinator.ts';
import { RelayRun } from './run/relay-run.ts';
import { createSignalServer } from './signal/index.ts';
import { createSwarmEndpoint } from './swarm/swarm-endpoint.ts';
import type { SwarmLimits } from './swarm/swarm-limits.ts';

/** `databaseUrl` for an in-memory PGlite: tests, and demos that should leave nothing behind. */
export const MEMORY_DATABASE = 'memory://';

export interface RelayOptions {
  readonly port: number;
  readonly host: string;
  /** Database, relay key, checkpoints and prepared data live here. */
  readonly stateDir: string;
  /** postgres://… for a PostgreSQL server, MEMORY_DATABASE, or null for the embedded PGlite in stateDir. */
  readonly databaseUrl: string | null;
  readonly run: RunConfig;
  /** The built pages (dist/web), or null to serve only the API. */
  readonly webDir: string | null;
  readonly ice?: IceConfig;
  readonly swarmLimits?: Partial<SwarmLimits>;
  readonly log: Logger;
  readonly clock?: Clock;
  /** After each commit, with what it recorded (tests watch settlements and bans here). */
  readonly onCommitted?: (record: CommitRecord) => void;
}

export interface RelayHandle {
  readonly url: string;
  readonly app: Hono;
  readonly run: RelayRun;
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions): Promise<RelayHandle> {
  const { log, stateDir } = options;
  const clock = options.clock ?? systemClock;
  await mkdir(stateDir, { recursive: true });
  const sql: Sql =
    options.databaseUrl === MEMORY_DATABASE
      ? await openPglite()
      : options.databaseUrl
        ? await openPostgres(options.databaseUrl)
        : await openPglite(join(stateDir, 'db'));
  try {
    const signer = await loadOrCreateRelayKey(join(stateDir, 'relay-key.pkcs8'));
    const ledger = await Ledger.open(sql, signer);
    // A ledger edited without the relay's key must not be served, nor built on.
    await ledger.assertIntact();
    const dataset = await openDataset(options.run.dataset, stateDir, log);
    const metrics = createRelayMetrics();
    const run = await RelayRun.open({
      config: options.run,
      dataset,
      ledger,
      relayKey: signer.publicKey,
      checkpointDir: join(stateDir, 'checkpoints'),
      clock,
      log,
      onCommitted: (record) => {
        metrics.roundsCommitted.inc();
        for (const credit of record.credits) {
          metrics.creditedFlops.inc(Number(credit.flops));
          metrics.creditedTokens.inc(credit.tokens);
        }
        options.onCommitted?.(record);
      },
    });
    observeRun(metrics, () => run);
    const app = createApp({ run, metrics: metrics.registry, webDir: options.webDir });
    const ice = options.ice ?? NO_ICE;
    // Credited peers are not new identities, and their names stay theirs across a restart.
    const credited = await ledger.leaderboard(run.id);
    const swarm = createSwarmEndpoint({
      coordinator: run.coordinator,
      runId: run.id,
      configHash: run.configHash,
      relayKey: signer.publicKey,
      iceServers: () => iceServersFor(ice, clock.now()),
      log,
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      stampBits: options.run.identity.stampBits,
      limits: options.swarmLimits,
      known: credited.map((row) => ({ peerId: row.publicKey, name: row.name })),
      onPeer: (peerId, name) => {
        ledger
          .touchPeer(peerId, name)
          .catch((error: unknown) => log.warn({ err: error }, 'could not record a peer'));
      },
    });
    const signal = createSignalServer({ logger: log, registry: metrics.registry });

    const server = createServer(getRequestListener(app.fetch));
    routeUpgrades(server, { '/swarm': swarm.handleUpgrade, '/signal': signal.handleUpgrade });
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host}:${port}`;
    log.info(
      { url, runId: run.id, database: options.databaseUrl ? 'postgres' : 'pglite' },
      'relay listening',
    );

    let closing: Promise<void> | null = null;
    return {
      url,
      app,
      run,
      close() {
        closing ??= (async () => {
          run.coordinator.close();
          await Promise.all([swarm.close(), signal.close()]);
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await sql.close();
          log.info({}, 'relay stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await sql.close();
    throw error;
  }
}
