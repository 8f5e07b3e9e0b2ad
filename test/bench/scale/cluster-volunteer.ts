// One simulated volunteer of bench:scale's cluster rows: a key and an address of its own, the
// real /swarm client (signed hello, identity stamp) and round runtime (web/src/peer/volunteer.ts)
// with a synthetic engine, kept on the run by the production reconnecting link
// (web/src/peer/reconnecting-link.ts) going round the relays each welcome names
// (relay-rotation.ts), as the headless volunteer is (web/node/node-connection.ts): when its
// relay dies it moves to the next one with the same key, store, engine and mesh, and a fresh
// Volunteer on the new connection. It records what the figures need: when it last said ready,
// when each assignment and commit reached it, and which relay it is on.
import WebSocket from 'ws';
import { maxAggregateFrameBytes } from '../../../protocol/aggregate-frame.ts';
import { createRng } from '../../../protocol/rng.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { attachPeers, linkStatusText, ReconnectingLink } from '../../../web/src/peer/reconnecting-link.ts';
import { RelayApi } from '../../../web/src/peer/relay-api.ts';
import { RelayRotation } from '../../../web/src/peer/relay-rotation.ts';
import { mintStamp } from '../../../web/src/peer/stamp-mint.ts';
import { SwarmClient } from '../../../web/src/peer/swarm-client.ts';
import { Volunteer, type VolunteerEvent } from '../../../web/src/peer/volunteer.ts';
import type { MemoryNetwork } from '../../helpers/memory-transport.ts';
import { BenchMesh } from './bench-mesh.ts';
import { type Counter, countingFetch, newCounter } from './counting-fetch.ts';
import { LINK } from './link-model.ts';
import { MemoryVolunteerStore } from './memory-store.ts';
import { type SharedStates, SyntheticEngine } from './synthetic-engine.ts';

export interface Assigned {
  readonly round: number;
  /** When the assignment reached this volunteer: its socket's message, before the runtime saw it. */
  readonly at: number;
  /** Its last `ready` before it, or null when it had sent none on any connection. */
  readonly readyAt: number | null;
  /** The round's deadline, on the leading relay's clock (this machine's). */
  readonly deadline: number;
}

export interface ClusterSim {
  readonly index: number;
  readonly id: string;
  readonly store: MemoryVolunteerStore;
  readonly mesh: BenchMesh;
  readonly http: Counter;
  /** Every assignment it received, in order. */
  readonly assigned: Assigned[];
  /** When each of its /swarm connections was welcomed, and when it sent each `ready`. */
  readonly welcomed: number[];
  readonly readies: number[];
  /** Round → when it committed the round, and its traffic (mesh and HTTP) then. */
  readonly committed: Map<number, { at: number; sent: number; received: number }>;
  /** The relay it is connected to, or trying. */
  relay(): string;
  /** The relays it knows of, from its welcomes. */
  known(): readonly string[];
  /** Its connection's last status (reconnecting-link.ts), as one line. */
  status(): string;
  stop(): Promise<void>;
}

interface Connection {
  readonly client: SwarmClient;
  /** The relay this connection reached: its HTTP API is the volunteer's on it. */
  readonly base: string;
}

export async function joinCluster(options: {
  readonly index: number;
  /** The relay it first connects to; the others are learnt from the welcome. */
  readonly entry: string;
  readonly runId: string;
  readonly shared: SharedStates;
  readonly network: MemoryNetwork;
  readonly onCommitted?: (round: number) => void;
}): Promise<ClusterSim> {
  const { index, shared, runId } = options;
  const identity = await identityFromKeyPair(await generateKeyPair());
  // Each volunteer its own /24, as a public swarm's are (the relays' per-network caps stay on).
  const address = `10.${(index >> 8) & 255}.${index & 255}.7`;
  // Minted once per run and kept, as kept-stamp.ts does: a reconnect pays nothing.
  const stamps = new Map<string, Promise<string>>();
  const stampFor = (run: string, bits: number) => {
    const key = `${run}/${bits}`;
    let stamp = stamps.get(key);
    if (!stamp) {
      stamp = mintStamp(run, identity.publicKey, bits);
      stamps.set(key, stamp);
    }
    return stamp;
  };
  const http = newCounter();
  const mesh = new BenchMesh(options.network, identity.publicKey);
  const store = new MemoryVolunteerStore();
  const rng = createRng(index + 1);
  const engine = new SyntheticEngine(shared, () => rng.nextFloat());
  const relays = new RelayRotation(options.entry);
  const assigned: Assigned[] = [];
  const committed = new Map<number, { at: number; sent: number; received: number }>();
  const welcomed: number[] = [];
  const readies: number[] = [];
  let status = 'connecting';

  const connect = async (): Promise<Connection> => {
    const base = relays.current;
    const client = await SwarmClient.connect({
      url: `${base.replace(/^http/, 'ws')}/swarm`,
      identity,
      stamps: stampFor,
      name: `sim-${index}`,
      platform: 'node',
      socket: (url) => new WebSocket(url, { headers: { 'x-forwarded-for': address } }) as never,
    });
    welcomed.push(Date.now());
    // Observed, not changed: the time of each ready it sends and each assignment it gets,
    // taken before the runtime handles them (this listener is the connection's first).
    const ready = client.ready.bind(client);
    client.ready = (round, modelHash) => {
      readies.push(Date.now());
      ready(round, modelHash);
    };
    client.on((message) => {
      if (message.type === 'assignment')
        assigned.push({
          round: message.round,
          at: Date.now(),
          readyAt: readies.at(-1) ?? null,
          deadline: message.deadline,
        });
    });
    return { client, base };
  };

  const onEvent = (event: VolunteerEvent) => {
    if (event.type !== 'committed') return;
    committed.set(event.round, {
      at: Date.now(),
      sent: mesh.traffic.bytesSent + http.sent,
      received: mesh.traffic.bytesReceived + http.received,
    });
    options.onCommitted?.(event.round);
  };
  const volunteerOn = (connection: Connection) =>
    new Volunteer({
      client: connection.client,
      network: mesh,
      engine,
      relay: new RelayApi(connection.base, runId, countingFetch(http, address)),
      store,
      runId,
      speed: {
        tokensPerSec: 2_000,
        uplinkBytesPerSec: LINK.upBytesPerSec,
        downlinkBytesPerSec: LINK.downBytesPerSec,
      },
      adapter: { vendor: 'bench', architecture: 'synthetic', description: 'bench:scale', isSoftware: true },
      paramCount: shared.layout.paramCount,
      maxAggregateBytes: maxAggregateFrameBytes(shared.layout.totalFloats, shared.config.round),
      onEvent,
    });
  const link = await ReconnectingLink.start(await connect(), {
    connect,
    relays,
    // What the headless volunteer does after a drop: the abandoned round's state goes.
    attach: attachPeers(volunteerOn, () => engine.discard()),
    onStatus: (next) => {
      status = linkStatusText(next);
    },
  });
  return {
    index,
    id: identity.publicKey,
    store,
    mesh,
    http,
    assigned,
    welcomed,
    readies,
    committed,
    relay: () => relays.current,
    known: () => relays.known,
    status: () => status,
    stop: () => link.stop('bench over'),
  };
}
