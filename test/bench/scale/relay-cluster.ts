// Several relays serving one run from one PostgreSQL, each its own process (relay-process.ts),
// as an operator starts them: the first makes the relay key and prepares the data set, the
// others get a copy of both in their state folders (one signer for one ledger, and the same
// dataset name, so the same run id), then every relay is given the database URL and the address
// volunteers reach it at. One of them takes the run's lease and leads; /healthz says which.
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLUSTER_TIMINGS } from '../../../relay/cluster/cluster-node.ts';
import { type BenchSchema, freshSchema } from './bench-schema.ts';
import { freePort, type RelayProcess, startRelayProcess } from './relay-process.ts';

export interface RelayHealth {
  readonly committedRound: number;
  readonly peers: number;
  readonly leading?: boolean;
  readonly relayId?: string;
}

export interface RelayCluster {
  readonly relays: readonly RelayProcess[];
  /** Each relay's public address, in start order. */
  readonly urls: readonly string[];
  readonly runId: string;
  readonly schema: BenchSchema;
  /** A relay's /healthz; null when it does not answer (killed). */
  health(index: number): Promise<RelayHealth | null>;
  /** The relay that leads now, once one does (polled until `timeoutMs`). */
  leader(timeoutMs?: number): Promise<number>;
  /** The cluster id of the relay that says it leads now, or null when none answers so. */
  leaderId(): Promise<string | null>;
  /** Each relay's CPU seconds so far (a killed one's up to its kill). */
  cpuSeconds(): number[];
  /** Stops the relays still running and drops the schema. */
  stop(): Promise<void>;
}

export async function startRelayCluster(options: {
  readonly count: number;
  readonly run: Record<string, unknown>;
  readonly dataset: string;
  /** A database the bench may create a schema in. */
  readonly databaseUrl: string;
  /** Each relay's output goes to `${logPrefix}-relay-N.log` when given. */
  readonly logPrefix?: string | null;
}): Promise<RelayCluster> {
  const schema = await freshSchema(options.databaseUrl);
  const relays: RelayProcess[] = [];
  const start = async (i: number, stateDir: string) => {
    const port = await freePort();
    const relay = await startRelayProcess(options.run, options.dataset, {
      stateDir,
      databaseUrl: schema.url,
      port,
      ...(options.logPrefix && { logFile: `${options.logPrefix}-relay-${i}.log` }),
    });
    relays[i] = relay;
    return relay;
  };
  const stop = async () => {
    await Promise.all(relays.filter(Boolean).map((r) => r.stop()));
    await schema.drop();
  };
  try {
    const firstDir = await mkdtemp(join(tmpdir(), 'potluck-scale-cluster-'));
    await start(0, firstDir);
    const others = await Promise.all(
      Array.from({ length: options.count - 1 }, async () => {
        const dir = await mkdtemp(join(tmpdir(), 'potluck-scale-cluster-'));
        await cp(join(firstDir, 'relay-key.pkcs8'), join(dir, 'relay-key.pkcs8'));
        // The prepared data set, so each relay does not tokenize the corpus again.
        await cp(join(firstDir, 'data'), join(dir, 'data'), { recursive: true });
        return dir;
      }),
    );
    await Promise.all(others.map((dir, i) => start(i + 1, dir)));
  } catch (error) {
    await stop();
    throw error;
  }
  const health = async (index: number): Promise<RelayHealth | null> => {
    const relay = relays[index] as RelayProcess;
    if (!relay.alive()) return null;
    try {
      const response = await fetch(`${relay.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return response.ok ? ((await response.json()) as RelayHealth) : null;
    } catch {
      return null; // not answering is what a dead relay's health is
    }
  };
  const cluster: RelayCluster = {
    relays,
    urls: relays.map((r) => r.url),
    runId: (relays[0] as RelayProcess).runId,
    schema,
    health,
    async leader(timeoutMs = 30_000) {
      const started = Date.now();
      for (;;) {
        const healths = await Promise.all(relays.map((_, i) => health(i)));
        const leading = healths.findIndex((h) => h?.leading === true);
        if (leading >= 0) return leading;
        if (Date.now() - started > timeoutMs) throw new Error(`no relay of ${relays.length} leads the run`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async leaderId() {
      const healths = await Promise.all(relays.map((_, i) => health(i)));
      return healths.find((h) => h?.leading === true)?.relayId ?? null;
    },
    cpuSeconds: () => relays.map((r) => r.cpuSeconds()),
    stop,
  };
  await cluster.leader();
  await everyRelayListed(schema, options.count);
  return cluster;
}

/**
 * Waits until every relay's welcome names all of them. A volunteer learns the run's relays only
 * from its welcome, so one that joined before its relay's registry had seen the others would know
 * no relay to move to: every relay must have registered (relay_nodes), then each must have read
 * the table again at its next heartbeat.
 */
async function everyRelayListed(schema: BenchSchema, count: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const [row] = await schema.query<{ n: string }>('select count(*) as n from relay_nodes');
    if (Number(row?.n) >= count) break;
    if (Date.now() - started > 30_000) throw new Error(`only ${row?.n} of ${count} relays registered`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await new Promise((resolve) => setTimeout(resolve, 2 * DEFAULT_CLUSTER_TIMINGS.heartbeatMs + 500));
}
