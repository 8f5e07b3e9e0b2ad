// One relay's place in a cluster: several relays serving one run from one PostgreSQL
// (docs/ARCHITECTURE.md, "Several relays"). Every relay holds its own volunteers' /swarm and
// /signal connections and serves pages, shards, checkpoints and the ledger itself; the one
// holding the run's lease (leadership.ts) runs the coordinator, and the others pass their
// sessions' calls, and the HTTP routes that need the coordinator, to it over the bus
// (cluster-bus.ts). When the lease moves, every relay carries its sessions over to the new
// leader (routed-coordinator.ts), and volunteers of a relay that died reconnect to another one
// from the list every welcome carries (relay-registry.ts).

import { FRAME_CLAIM_HEADER } from '../../protocol/run-api.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { unreachable } from '../../protocol/unreachable.ts';
import type { Sql } from '../ledger/sql.ts';
import { TokenBucket } from '../limits/token-bucket.ts';
import type { Logger } from '../logger.ts';
import type { RelayRun } from '../run/relay-run.ts';
import type { CoordinatorKind } from '../swarm/swarm-coordinator.ts';
import type { BusEnvelope, SessionCall } from './bus-messages.ts';
import { type ClusterBus, openClusterBus } from './cluster-bus.ts';
import { LeaderDesk } from './leader-desk.ts';
import { LeaseThread } from './lease-thread.ts';
import { RelayRegistry } from './relay-registry.ts';
import { type LeaderTarget, RoutedCoordinator } from './routed-coordinator.ts';

/** Marks a request a follower forwarded, so a relay that lost the lease meanwhile does not pass it on again. */
export const FORWARDED_HEADER = 'x-potluck-forwarded';
/** Request headers a leader's routes read (the operator token's too: the leader checks it). */
const FORWARDED_REQUEST_HEADERS = [
  'authorization',
  'content-type',
  FRAME_CLAIM_HEADER,
  'if-none-match',
  'range',
];
/** A forwarded request the leader has not answered by then gets a 504. */
const FORWARD_TIMEOUT_MS = 15_000;
/**
 * /signal publishes passed to the other relays, in bytes a second and at once. Each one costs
 * every relay and the database a notification, so the bridge is bounded on its own, beyond each
 * connection's rate limit: SDP offers, answers and candidates of a few hundred volunteers joining
 * at once fit (a few KB each; y-webrtc's offers run past one notification and go through
 * relay_mail); a crowd of connections flooding publishes does not reach the database past this.
 */
export const SIGNAL_BRIDGE_BYTES_PER_SEC = 1_000_000;
const SIGNAL_BRIDGE_BURST_BYTES = 4_000_000;

export interface ClusterTimings {
  /** A lease not renewed for this long is taken over (the failover time's main part). */
  readonly leaseMs: number;
  /**
   * A leader whose main thread has not run for this long lets its lease go (lease-thread.ts):
   * longer than the longest legitimate stall (a round's aggregation), shorter than an outage.
   */
  readonly maxStallMs: number;
  readonly heartbeatMs: number;
  /** A relay without a heartbeat for this long is gone. */
  readonly staleMs: number;
}

export const DEFAULT_CLUSTER_TIMINGS: ClusterTimings = {
  // 2 s lost the lease under a loaded database (bench:scale at 3,000 volunteers on 2 cores).
  leaseMs: 3_000,
  maxStallMs: 300_000,
  heartbeatMs: 1_000,
  // Only a fallback: volunteers of a dead relay reconnect through another within a second or
  // two, which moves them; a relay stalled past this is asked to announce its volunteers again.
  staleMs: 10_000,
};

export interface ClusterNodeOptions {
  readonly sql: Sql;
  readonly databaseUrl: string;
  readonly run: RelayRun;
  readonly kind: CoordinatorKind;
  readonly log: Logger;
  readonly timings?: Partial<ClusterTimings>;
  /** Closes this relay's /swarm session of `peer` (it connected again through another relay). */
  readonly closeSession: (peer: string) => void;
  /** A publish another relay's /signal received. */
  readonly deliverSignal: (text: string) => void;
  /** The run's live relays changed: tell this relay's volunteers (every address, this one's first). */
  readonly relaysChanged: (urls: string[]) => void;
  /** Answers a forwarded request with this relay's own routes (the Hono app). */
  readonly serve: (request: Request) => Promise<Response>;
}

export class ClusterNode {
  readonly relayId = randomId();
  readonly coordinator: RoutedCoordinator;
  private bus: ClusterBus | null = null;
  private leadership: LeaseThread | null = null;
  private registry: RelayRegistry | null = null;
  private desk: LeaderDesk | null = null;
  /** Calls that reached this relay while it was taking the run over, in order. */
  private early: { from: string; call: SessionCall }[] | null = null;
  /** Forwarded requests waiting for the leader, with the relay each went to. */
  private readonly pending = new Map<
    number,
    { readonly relay: string; readonly resolve: (response: Response) => void }
  >();
  private nextRequest = 1;
  private readonly timings: ClusterTimings;
  private closed = false;
  private readonly signalBridge = new TokenBucket(
    SIGNAL_BRIDGE_BYTES_PER_SEC,
    SIGNAL_BRIDGE_BURST_BYTES,
    () => performance.now(),
  );

  constructor(private readonly options: ClusterNodeOptions) {
    this.timings = { ...DEFAULT_CLUSTER_TIMINGS, ...options.timings };
    this.coordinator = new RoutedCoordinator({
      kind: options.kind,
      self: this.relayId,
      toLeader: (relay, call) => this.bus?.send(relay, call),
      closeSession: options.closeSession,
    });
  }

  /** Joins the cluster once this relay is reachable at `url`. */
  async start(url: string): Promise<void> {
    const { sql, databaseUrl, run, log } = this.options;
    // Channels are per database, not per schema: runs in two schemas of one database stay apart.
    const [where] = await sql.query<{ schema: string }>('select current_schema() as schema');
    const runKey = (await sha256Hex(new TextEncoder().encode(`${where?.schema}/${run.id}`))).slice(0, 16);
    this.bus = await openClusterBus({
      url: databaseUrl,
      relayId: this.relayId,
      runKey,
      log,
      onMessage: (envelope) => this.received(envelope),
    });
    this.registry = await RelayRegistry.open({
      sql,
      runId: run.id,
      relayId: this.relayId,
      url,
      heartbeatMs: this.timings.heartbeatMs,
      staleMs: this.timings.staleMs,
      log,
      onGone: (relay) => this.desk?.relayGone(relay),
      onChange: (urls) => this.options.relaysChanged(urls),
    });
    this.leadership = new LeaseThread({
      databaseUrl,
      runId: run.id,
      relayId: this.relayId,
      ttlMs: this.timings.leaseMs,
      maxStallMs: this.timings.maxStallMs,
      log,
      onLead: (epoch) => void this.lead(epoch),
      onLose: () => this.follow(),
      onLeader: (relay, epoch) => {
        if (relay !== this.relayId) this.leaderIs({ kind: 'remote', relay, epoch });
      },
    });
  }

  get leading(): boolean {
    return this.desk !== null;
  }

  /** Every live relay's address, this one's first (the welcome's list). */
  relayUrls(): string[] {
    return this.registry?.urls() ?? [];
  }

  /** Throws unless this relay still holds the run's lease; inside the round commit's transaction. */
  fence(tx: Sql): Promise<void> {
    if (!this.leadership) throw new Error('this relay has not joined its cluster');
    return this.leadership.fence(tx);
  }

  /** A /signal publish on this relay, for the others' subscribers (bounded, see SIGNAL_BRIDGE_BYTES_PER_SEC). */
  published(topic: string, text: string): void {
    const bytes = Buffer.byteLength(text) + topic.length;
    if (this.signalBridge.take(bytes)) this.bus?.broadcast({ type: 'signal', topic, data: text });
  }

  /** Answers a request for the leader's routes from the leader, through the bus. */
  async forward(request: Request, body: Uint8Array | null): Promise<Response> {
    const target = this.coordinator.leader;
    if (target.kind !== 'remote' || !this.bus)
      return errorResponse(503, 'ERR_NO_LEADER', 'no relay leads the run right now; retry in a few seconds');
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    const id = this.nextRequest++;
    const answered = new Promise<Response>((resolve) => {
      this.pending.set(id, { relay: target.relay, resolve });
      setTimeout(() => {
        if (this.pending.delete(id))
          resolve(errorResponse(504, 'ERR_LEADER_TIMEOUT', 'the leading relay did not answer in time'));
      }, FORWARD_TIMEOUT_MS).unref();
    });
    this.bus.send(
      target.relay,
      { type: 'http-request', id, method: request.method, path: url.pathname + url.search, headers },
      body,
    );
    return answered;
  }

  /**
   * The leader changed: requests forwarded to the old one are answered now (it may be dead, and
   * a volunteer's next message waits on its upload), not at the timeout.
   */
  private leaderIs(target: LeaderTarget): void {
    this.coordinator.setLeader(target);
    const relay = target.kind === 'remote' ? target.relay : null;
    this.abandonForwards(
      relay,
      errorResponse(503, 'ERR_LEADER_CHANGED', 'the leading relay changed; send it again'),
    );
  }

  /** Answers every pending forward not to `keep` with `response`. */
  private abandonForwards(keep: string | null, response: Response): void {
    for (const [id, waiting] of this.pending) {
      if (waiting.relay === keep) continue;
      this.pending.delete(id);
      waiting.resolve(response.clone());
    }
  }

  private async lead(epoch: number): Promise<void> {
    const { run, log } = this.options;
    this.early = [];
    const started = performance.now();
    try {
      const coordinator = await run.lead();
      if (this.leadership?.epoch !== epoch) return; // lost it while opening
      const desk = new LeaderDesk(coordinator, {
        self: this.relayId,
        toRemote: (relay, peer, message) => this.bus?.send(relay, { type: 'to-peer', peer, message }),
        reannounce: (relay, peer) =>
          relay === this.relayId
            ? this.coordinator.reannounce(peer)
            : this.bus?.send(relay, { type: 'reannounce', peer }),
        replaced: (relay, peer) =>
          relay === this.relayId
            ? this.coordinator.replaced(peer)
            : this.bus?.send(relay, { type: 'replaced', peer }),
      });
      this.desk = desk;
      this.leaderIs({ kind: 'here', epoch, desk });
      const waiting = this.early?.length ?? 0;
      for (const { from, call } of this.early ?? []) desk.call(from, call);
      this.early = null;
      this.bus?.broadcast({ type: 'leader', epoch, relay: this.relayId });
      // A warning, as every change of hands is: each aborts the round under way.
      log.warn(
        { epoch, openMs: Math.round(performance.now() - started), waiting },
        'cluster: this relay took the run over',
      );
    } catch (error) {
      log.error({ err: error, epoch }, 'cluster: could not take the run over; giving the lease up');
      this.early = null;
      run.follow();
      await this.leadership?.close();
    }
  }

  private follow(): void {
    this.desk = null;
    this.early = null;
    this.options.run.follow();
    this.leaderIs({ kind: 'none' });
  }

  private received({ from, message, bytes }: BusEnvelope): void {
    switch (message.type) {
      case 'join':
      case 'capabilities':
      case 'ready':
      case 'manifest':
      case 'model-hash':
      case 'stage-norm':
      case 'stage-report':
      case 'leave':
        if (this.desk) this.desk.call(from, message);
        else this.early?.push({ from, call: message });
        return;
      case 'to-peer':
        this.coordinator.deliver(message.peer, message.message);
        return;
      case 'replaced':
        this.coordinator.replaced(message.peer);
        return;
      case 'reannounce':
        this.coordinator.reannounce(message.peer);
        return;
      case 'http-request':
        void this.answer(from, message, bytes);
        return;
      case 'http-response': {
        const waiting = this.pending.get(message.id);
        if (!waiting || waiting.relay !== from) return;
        this.pending.delete(message.id);
        waiting.resolve(
          new Response(bytes ? (bytes as Uint8Array<ArrayBuffer>) : null, {
            status: message.status,
            headers: message.headers,
          }),
        );
        return;
      }
      case 'leader':
        if (message.relay !== this.relayId)
          this.leaderIs({ kind: 'remote', relay: message.relay, epoch: message.epoch });
        return;
      case 'signal':
        if (from !== this.relayId) this.options.deliverSignal(message.data);
        return;
      default:
        unreachable(message, 'bus message');
    }
  }

  private async answer(
    from: string,
    request: Extract<BusEnvelope['message'], { type: 'http-request' }>,
    bytes: Uint8Array | null,
  ): Promise<void> {
    let response: Response;
    try {
      response = await this.options.serve(
        new Request(`http://relay${request.path}`, {
          method: request.method,
          headers: { ...request.headers, [FORWARDED_HEADER]: '1' },
          body: bytes ? (bytes as Uint8Array<ArrayBuffer>) : null,
        }),
      );
    } catch (error) {
      this.options.log.error({ err: error }, 'cluster: a forwarded request failed');
      response = errorResponse(500, 'ERR_INTERNAL', 'the leading relay could not answer');
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') headers[name] = value;
    });
    const body = new Uint8Array(await response.arrayBuffer());
    this.bus?.send(from, { type: 'http-response', id: request.id, status: response.status, headers }, body);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.leadership?.close();
    this.follow();
    await this.registry?.close();
    await this.bus?.close();
    this.abandonForwards(null, errorResponse(503, 'ERR_RELAY_CLOSING', 'this relay is shutting down'));
  }
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** A relay's id in the cluster: [a-z0-9], so it can name a LISTEN channel. */
function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}
