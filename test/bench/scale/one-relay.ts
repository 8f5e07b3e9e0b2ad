// bench:scale's rows with one relay: does everyone who shows up train, with flat traffic per
// volunteer? N simulated volunteers, the real relay as a child process (relay-process.ts, its
// CPU its own), real /swarm connections (WebSocket, signed hellos, identity stamps), the real
// volunteer runtime (web/src/peer/volunteer.ts) with synthetic engines (synthetic-engine.ts:
// frames of the default model's size in the run's format, no GPU), real frames and aggregate
// pieces over the in-memory transport. Bytes are counted as sent; round time is modelled from
// them (link-model.ts).
import WebSocket from 'ws';
import { maxAggregateFrameBytes } from '../../../protocol/aggregate-frame.ts';
import { createRng } from '../../../protocol/rng.ts';
import { DEFAULT_RUN } from '../../../protocol/run-config.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { RelayApi } from '../../../web/src/peer/relay-api.ts';
import { mintStamp } from '../../../web/src/peer/stamp-mint.ts';
import { SwarmClient } from '../../../web/src/peer/swarm-client.ts';
import { Volunteer, type VolunteerEvent } from '../../../web/src/peer/volunteer.ts';
import { MemoryNetwork } from '../../helpers/memory-transport.ts';
import { BenchMesh } from './bench-mesh.ts';
import { type Counter, countingFetch } from './counting-fetch.ts';
import { LINK, type LinkModel, modelledSeconds } from './link-model.ts';
import { MemoryVolunteerStore } from './memory-store.ts';
import { startRelayProcess } from './relay-process.ts';
import { SharedStates, SyntheticEngine } from './synthetic-engine.ts';

interface Sim {
  readonly id: string;
  readonly volunteer: Volunteer;
  readonly mesh: BenchMesh;
  readonly http: Counter;
  /** Traffic at each committed round. */
  readonly at: Map<number, { sent: number; received: number; connections: number }>;
  client: SwarmClient;
}

async function join(
  index: number,
  relay: { url: string; runId: string },
  shared: SharedStates,
  network: MemoryNetwork,
  seated: Map<number, Set<number>>,
  onCommitted: (round: number) => void,
): Promise<Sim> {
  const identity = await identityFromKeyPair(await generateKeyPair());
  // Each volunteer its own /24, as a public swarm's are (the relay's per-network caps stay on).
  const address = `10.${(index >> 8) & 255}.${index & 255}.7`;
  const client = await SwarmClient.connect({
    url: `${relay.url.replace(/^http/, 'ws')}/swarm`,
    identity,
    stamps: (runId, bits) => mintStamp(runId, identity.publicKey, bits),
    name: `sim-${index}`,
    platform: 'node',
    socket: (url) => new WebSocket(url, { headers: { 'x-forwarded-for': address } }) as never,
  });
  const http: Counter = { sent: 0, received: 0, tokens: 0, state: 0 };
  const mesh = new BenchMesh(network, identity.publicKey);
  const rng = createRng(index + 1);
  const at = new Map<number, { sent: number; received: number; connections: number }>();
  const sim: Partial<Sim> = { id: identity.publicKey, mesh, http, at, client };
  const onEvent = (event: VolunteerEvent) => {
    if (event.type === 'round' && event.phase === 'training') {
      const set = seated.get(event.round) ?? new Set<number>();
      seated.set(event.round, set);
      set.add(index);
    }
    if (event.type === 'committed') {
      at.set(event.round, {
        sent: mesh.traffic.bytesSent + http.sent,
        received: mesh.traffic.bytesReceived + http.received,
        connections: mesh.connectedPeers.length,
      });
      onCommitted(event.round);
    }
  };
  const volunteer = new Volunteer({
    client,
    network: mesh,
    engine: new SyntheticEngine(shared, () => rng.nextFloat()),
    relay: new RelayApi(relay.url, relay.runId, countingFetch(http, address)),
    store: new MemoryVolunteerStore(),
    runId: relay.runId,
    speed: {
      tokensPerSec: 2_000,
      uplinkBytesPerSec: LINK.upBytesPerSec,
      downlinkBytesPerSec: LINK.downBytesPerSec,
    },
    adapter: { vendor: 'bench', architecture: 'synthetic', description: 'bench:scale', isSoftware: true },
    paramCount: shared.layout.paramCount,
    maxAggregateBytes: maxAggregateFrameBytes(shared.layout.totalFloats, DEFAULT_RUN.round),
    onEvent,
  });
  await volunteer.start();
  return { ...(sim as Sim), volunteer };
}

export interface Row {
  volunteers: number;
  relays: number;
  seatedFraction: number;
  bytesSentPerVolunteer: number;
  bytesReceivedPerVolunteer: number;
  connectionsPerVolunteer: number;
  roundSeconds: number;
  relayCpuSecondsPerRound: number;
  relayEgressPerJoinBytes: number;
}

export async function measureOneRelay(
  n: number,
  link: LinkModel,
  measuredRounds: number,
): Promise<{ row: Row; checkpointBytes: number }> {
  const run = {
    schedule: { ...DEFAULT_RUN.schedule, minPeers: n, gatherMs: 3_000, minRoundMs: 600_000 },
    // The relay's own checks cost what bench:work-check and bench:relay-round measure; here
    // every simulated volunteer is taken as established and the held-out scoring is off, so
    // the figures are the coordination and data plane alone.
    guard: { ...DEFAULT_RUN.guard, validationSequences: 0 },
    verification: { ...DEFAULT_RUN.verification, probationRounds: 0, checkProbability: 0 },
    identity: { stampBits: 4 },
  };
  const relay = await startRelayProcess(run, 'brown');
  const shared = new SharedStates(DEFAULT_RUN);
  await shared.init();
  const network = new MemoryNetwork();
  const seated = new Map<number, Set<number>>();
  const commits = new Map<number, number>();
  const cpuAt = new Map<number, number>();
  const onCommitted = (round: number) => {
    commits.set(round, (commits.get(round) ?? 0) + 1);
    if (!cpuAt.has(round)) cpuAt.set(round, relay.cpuSeconds());
  };
  const sims: Sim[] = [];
  try {
    for (let i = 0; i < n; i += 32) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(32, n - i) }, (_, j) =>
          join(i + j, relay, shared, network, seated, onCommitted),
        ),
      );
      sims.push(...batch);
    }
    const lastRound = measuredRounds;
    const started = Date.now();
    while ((commits.get(lastRound) ?? 0) < n && Date.now() - started < 20 * 60_000)
      await new Promise((resolve) => setTimeout(resolve, 200));
    if ((commits.get(lastRound) ?? 0) < n)
      throw new Error(`${n} volunteers: round ${lastRound} committed by ${commits.get(lastRound) ?? 0}`);
    // Per volunteer per round, from one commit to the next, averaged over the measured rounds.
    let sent = 0;
    let received = 0;
    let connections = 0;
    let roundSeconds = 0;
    let count = 0;
    for (let r = 1; r <= lastRound; r++) {
      let slowest = 0;
      for (const sim of sims) {
        const a = sim.at.get(r - 1);
        const b = sim.at.get(r);
        if (!a || !b) continue;
        sent += b.sent - a.sent;
        received += b.received - a.received;
        connections += b.connections;
        count++;
        slowest = Math.max(slowest, modelledSeconds(b.sent - a.sent, b.received - a.received, link));
      }
      roundSeconds += slowest + ((cpuAt.get(r) as number) - (cpuAt.get(r - 1) as number));
    }
    const seatedFraction =
      [...Array(lastRound + 1).keys()].reduce((sum, r) => sum + (seated.get(r)?.size ?? 0) / n, 0) /
      (lastRound + 1);
    const relayCpu = ((cpuAt.get(lastRound) as number) - (cpuAt.get(0) as number)) / lastRound;
    // A volunteer that joins now holds θ_0 and must catch up: what it takes from the relay.
    const joinerCommits = new Map<number, number>();
    const joiner = await join(n, relay, shared, network, new Map(), (round) =>
      joinerCommits.set(round, (joinerCommits.get(round) ?? 0) + 1),
    );
    sims.push(joiner);
    const joinStarted = Date.now();
    while (joiner.volunteer.held.round < lastRound && Date.now() - joinStarted < 120_000)
      await new Promise((resolve) => setTimeout(resolve, 200));
    if (joiner.volunteer.held.round < lastRound)
      throw new Error(`the joiner did not catch up: ${joiner.volunteer.held.round}`);
    const checkpointBytes = (await shared.checkpointBytes()).length;
    return {
      row: {
        volunteers: n,
        relays: 1,
        seatedFraction,
        bytesSentPerVolunteer: Math.round(sent / count),
        bytesReceivedPerVolunteer: Math.round(received / count),
        connectionsPerVolunteer: connections / count,
        roundSeconds: roundSeconds / lastRound,
        relayCpuSecondsPerRound: relayCpu,
        relayEgressPerJoinBytes: joiner.http.state,
      },
      checkpointBytes,
    };
  } finally {
    for (const sim of sims) {
      sim.volunteer.stop('bench over');
    }
    await relay.stop();
  }
}
