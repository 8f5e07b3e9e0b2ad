// Starts a relay: the database and ledger, the dataset, the run, the Hono app on a Node HTTP
// server, and the WebSocket endpoints routed by path on that same port (`/swarm`, `/signal`).
// Returns a handle whose close() shuts everything down in order, for tests and for SIGTERM.
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { isRelayUrl, welcomeRelays } from '../protocol/relay-url.ts';
import { type RunConfig, runIdentity } from '../protocol/run-config.ts';
import { createApp } from './app.ts';
import { PgCheckpointStore } from './checkpoints/pg-checkpoint-store.ts';
import { type Clock, systemClock } from './clock.ts';
import { openClusterNames } from './cluster/cluster-names.ts';
import { ClusterNode, type ClusterTimings } from './cluster/cluster-node.ts';
import { ensureClusterSchema } from './cluster/cluster-schema.ts';
import { pgEquivocations } from './cluster/pg-equivocations.ts';
import { fewestRangeTokens, openRunData } from './datasets/run-data.ts';
import { loadOrCreateOperatorToken, OPERATOR_TOKEN_FILE } from './http/operator-token.ts';
import { routeUpgrades } from './http/upgrade-route.ts';
import { type IceConfig, iceServersFor, NO_ICE } from './ice-servers.ts';
import { Ledger } from './ledger/ledger.ts';
import { loadOrCreateRelayKey } from './ledger/relay-signer.ts';
import type { Sql } from './ledger/sql.ts';
import { openPglite } from './ledger/sql-pglite.ts';
import { openPostgres } from './ledger/sql-postgres.ts';
import { clientAddressOf } from './limits/client-address.ts';
import type { Logger } from './logger.ts';
import { createRelayMetrics, observeRun, roundEvents } from './metrics.ts';
import { openCooldownRecord } from './rounds/cooldown-record.ts';
import type { CommitRecord } from './rounds/coordinator.ts';
import { openPendingCheckRecord } from './rounds/pending-check-record.ts';
import { RelayRun } from './run/relay-run.ts';
import { createSignalServer, type SignalServer } from './signal/index.ts';
import { createSwarmEndpoint, type SwarmEndpoint } from './swarm/swarm-endpoint.ts';
import type { SwarmLimits } from './swarm/swarm-limits.ts';
import { createRelayServer } from './tls/relay-server.ts';
import type { TlsFiles } from './tls/tls-files.ts';

export class RelayConfigError extends Error {
  readonly code = 'ERR_RELAY_CONFIG';
}

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
  /** Serve HTTPS (and wss://) with this PEM certificate and key, reloaded when they change; null: HTTP. */
  readonly tls?: TlsFiles | null;
  readonly log: Logger;
  readonly clock?: Clock;
  /**
   * Where volunteers reach this relay (https://relay-2.example.org), for the list of relays every
   * welcome carries; by default the address it listens on.
   */
  readonly publicUrl?: string | null;
  /** With a PostgreSQL `databaseUrl`: lease and heartbeat timings of the cluster (tests shorten them). */
  readonly cluster?: Partial<ClusterTimings>;
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
  if (options.publicUrl && !isRelayUrl(options.publicUrl))
    throw new RelayConfigError(
      `--public-url must be http(s)://host[:port] with nothing after it, lowercase: ${JSON.stringify(String(options.publicUrl).slice(0, 200))}`,
    );
  const clock = options.clock ?? systemClock;
  await mkdir(stateDir, { recursive: true });
  // PostgreSQL is the multi-relay mode: any number of relays may share the database and the run.
  const postgresUrl =
    options.databaseUrl && options.databaseUrl !== MEMORY_DATABASE ? options.databaseUrl : null;
  const sql: Sql =
    options.databaseUrl === MEMORY_DATABASE
      ? await openPglite()
      : postgresUrl
        ? await openPostgres(postgresUrl)
        : await openPglite(join(stateDir, 'db'));
  let cluster: ClusterNode | null = null;
  try {
    if (postgresUrl) await ensureClusterSchema(sql);
    const signer = await loadOrCreateRelayKey(join(stateDir, 'relay-key.pkcs8'));
    const operatorToken = await loadOrCreateOperatorToken(join(stateDir, OPERATOR_TOKEN_FILE));
    const ledger = await Ledger.open(sql, signer);
    // A ledger edited without the relay's key must not be served, nor built on.
    await ledger.assertIntact();
    const dataset = await openRunData(options.run.dataset, stateDir, log, fewestRangeTokens(options.run));
    const metrics = createRelayMetrics();
    const run = await RelayRun.open({
      config: options.run,
      dataset,
      ledger,
      relayKey: signer.publicKey,
      checkpointDir: join(stateDir, 'checkpoints'),
      pendingChecks: await openPendingCheckRecord(sql, (await runIdentity(options.run)).runId, log),
      cooldowns: await openCooldownRecord(sql, (await runIdentity(options.run)).runId),
      ...(postgresUrl && {
        // Every relay serves the committed states and takes the run over from them.
        checkpoints: (runId: string) =>
          PgCheckpointStore.open(sql, runId, options.run.model, options.run.guard.keepCheckpoints + 1),
        equivocations: async (runId: string) => pgEquivocations(sql, runId),
        fence: (tx: Sql) => (cluster as ClusterNode).fence(tx),
        lead: false,
      }),
      clock,
      log,
      events: roundEvents(metrics),
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
    let swarmEndpoint: SwarmEndpoint | null = null;
    let signalServer: SignalServer | null = null;
    let app: Hono | null = null;
    cluster = postgresUrl
      ? new ClusterNode({
          sql,
          databaseUrl: postgresUrl,
          run,
          kind: options.run.pipeline ? 'pipeline' : 'rounds',
          log,
          timings: options.cluster,
          closeSession: (peer) => swarmEndpoint?.closeSession(peer),
          deliverSignal: (text) => signalServer?.deliverRemote(text),
          relaysChanged: (urls) => swarmEndpoint?.broadcast({ type: 'relays', relays: welcomeRelays(urls) }),
          serve: async (request) => (app as Hono).fetch(request),
        })
      : null;
    const node = cluster;
    app = createApp({
      run,
      metrics: metrics.registry,
      webDir: options.webDir,
      operatorToken,
      cluster: node
        ? {
            leading: () => node.leading,
            forward: (request, body) => node.forward(request, body),
            clientOf: (c) => {
              const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
              const header = options.swarmLimits?.trustedProxyHeader ?? null;
              return (incoming && clientAddressOf(incoming, header)?.address) ?? 'unknown';
            },
            peers: () => node.coordinator.connectedPeers,
            relayId: node.relayId,
            relayUrls: () => node.relayUrls(),
          }
        : undefined,
    });
    const ice = options.ice ?? NO_ICE;
    // Credited peers are not new identities, and their names stay theirs across a restart.
    const credited = await ledger.leaderboard(run.id);
    const known = credited.map((row) => ({ peerId: row.publicKey, name: row.name }));
    const swarm = createSwarmEndpoint({
      coordinator: node ? node.coordinator : run.coordinator,
      relayUrls: () => node?.relayUrls() ?? [],
      runId: run.id,
      configHash: run.configHash,
      relayKey: signer.publicKey,
      iceServers: () => iceServersFor(ice, clock.now()),
      log,
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      stampBits: options.run.identity.stampBits,
      limits: options.swarmLimits,
      known,
      claimName: postgresUrl ? await openClusterNames(sql, run.id, known) : undefined,
      onPeer: (peerId, name) => {
        ledger
          .touchPeer(peerId, name)
          .catch((error: unknown) => log.warn({ err: error }, 'could not record a peer'));
      },
    });
    const signal = createSignalServer({
      logger: log,
      registry: metrics.registry,
      addressOf: (request) =>
        clientAddressOf(request, options.swarmLimits?.trustedProxyHeader ?? null)?.address ?? null,
      onPublish: node ? (topic, text) => node.published(topic, text) : undefined,
    });
    swarmEndpoint = swarm;
    signalServer = signal;

    const server = await createRelayServer(getRequestListener(app.fetch), options.tls ?? null, log);
    routeUpgrades(server, { '/swarm': swarm.handleUpgrade, '/signal': signal.handleUpgrade });
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const url = `${options.tls ? 'https' : 'http'}://${options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host}:${port}`;
    await node?.start(options.publicUrl ?? url);
    log.info(
      { url, runId: run.id, database: postgresUrl ? 'postgres' : 'pglite', relayId: node?.relayId },
      'relay listening',
    );

    let closing: Promise<void> | null = null;
    return {
      url,
      app,
      run,
      close() {
        closing ??= (async () => {
          await node?.close();
          run.follow();
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
    await cluster?.close();
    await sql.close();
    throw error;
  }
}
