// bench:scale's rows with several relays on one PostgreSQL (docs/ARCHITECTURE.md, "Storage and
// scale"): N simulated volunteers (cluster-volunteer.ts) spread evenly over the relays
// (volunteer i on relay i mod R), each relay its own process, the leading one deciding every
// round and the others passing their volunteers' calls to it through LISTEN/NOTIFY. Measured per
// round, after a first round that seats everyone: how long the relays take to seat a volunteer
// that asked for work, the round's wall time, and the CPU seconds of each relay, of PostgreSQL
// and of this process (the volunteers), since all of them share this machine's cores.
import { createRng } from '../../../protocol/rng.ts';
import { DEFAULT_RUN, type RunConfig } from '../../../protocol/run-config.ts';
import { MemoryNetwork } from '../../helpers/memory-transport.ts';
import { type ClusterSim, joinCluster } from './cluster-volunteer.ts';
import { type Failover, failOver } from './failover.ts';
import { percentile } from './percentile.ts';
import { postgresCpuSeconds } from './postgres-cpu.ts';
import { type RelayCluster, startRelayCluster } from './relay-cluster.ts';
import { SharedStates } from './synthetic-engine.ts';
import { waitUntil } from './wait-until.ts';

/**
 * A smaller model than the default (21,984 parameters against 834,304), so that these rows
 * measure serving (connections, handshakes, assignments, uploads through the followers,
 * failover) rather than aggregation: the one-relay rows measure the default model's
 * aggregation (~54 ms of relay CPU per volunteer, ~160 s a round at 3,000 on one core), and
 * 3,000 simulated volunteers holding its state would not fit this machine's memory.
 */
export const CLUSTER_MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };
/**
 * Every round's deadline: minRoundMs = maxRoundMs, so whatever the sizing the leader sets the
 * deadline exactly this long after it opens the round, and each assignment tells when that was.
 */
const ROUND_MS = 300_000;
/** A row that has not committed its last round by then has failed. */
const ROW_TIMEOUT_MS = 30 * 60_000;
/**
 * A row whose lease changed hands this often before its rounds were done has failed: each
 * change aborts the round under way, so a leader that keeps stalling past its lease never
 * commits one, and waiting out ROW_TIMEOUT_MS would only say so later.
 */
const MAX_HANDOVERS = 3;
const FAILOVER_TIMEOUT_MS = 5 * 60_000;

export function clusterRunConfig(volunteers: number): RunConfig {
  return {
    ...DEFAULT_RUN,
    model: CLUSTER_MODEL,
    inner: { ...DEFAULT_RUN.inner, batchSize: 4, seqLen: CLUSTER_MODEL.contextLength },
    round: { ...DEFAULT_RUN.round, innerSteps: 2 },
    // Every volunteer in every round (as in the one-relay rows): a round opens once all have
    // said ready, and at once (no gather wait), so ready-to-assignment is serving time alone.
    schedule: {
      ...DEFAULT_RUN.schedule,
      minPeers: volunteers,
      gatherMs: 0,
      minRoundMs: ROUND_MS,
      maxRoundMs: ROUND_MS,
    },
    // The relay's own checks cost what bench:work-check and bench:relay-round measure; here they
    // are off and every volunteer established, as in the one-relay rows.
    guard: { ...DEFAULT_RUN.guard, validationSequences: 0 },
    verification: { ...DEFAULT_RUN.verification, probationRounds: 0, checkProbability: 0 },
    identity: { stampBits: 4 },
  };
}

export interface ClusterRow {
  readonly volunteers: number;
  readonly relays: number;
  readonly modelFloats: number;
  readonly frameBytes: number;
  readonly gatherMs: number;
  readonly seatedFraction: number;
  /**
   * Per volunteer per measured round: from the round's last `ready` sent (the moment every
   * volunteer had asked, so the leader could open it; before that it may not) to the
   * assignment reaching the volunteer. The run's gatherMs is 0, so no deliberate wait is in it.
   */
  readonly p50ReadyToAssignmentMs: number;
  readonly p99ReadyToAssignmentMs: number;
  /** From the leader opening the round (the deadline less ROUND_MS) to the assignment arriving. */
  readonly p50OpenToAssignmentMs: number;
  readonly p99OpenToAssignmentMs: number;
  /** Each measured round's figures, for a p99 that needs explaining. */
  readonly rounds: readonly RoundFigures[];
  /** From everyone's commit of one round to everyone's commit of the next: each measured round's, and their mean. */
  readonly roundsSeconds: readonly number[];
  readonly roundSeconds: number;
  /** Per relay, in start order; `leader` is the index of the one that led. */
  readonly relayCpuSecondsPerRound: readonly number[];
  readonly leader: number;
  /** The whole PostgreSQL server's, other clients' included; null when it is not on this machine. */
  readonly postgresCpuSecondsPerRound: number | null;
  /** This process: the simulated volunteers. */
  readonly benchCpuSecondsPerRound: number;
  readonly bytesSentPerVolunteer: number;
  readonly bytesReceivedPerVolunteer: number;
  /** From the first volunteer's connection to every one having joined. */
  readonly joinSeconds: number;
  /** Volunteers whose welcome named every relay: those can move when theirs dies. */
  readonly knowEveryRelay: number;
  /** After the measured rounds, the leading relay SIGKILLed mid-round; null when not asked. */
  readonly failover: Failover | null;
}

export interface RoundFigures {
  readonly round: number;
  readonly seated: number;
  readonly p50ReadyToAssignmentMs: number;
  readonly p99ReadyToAssignmentMs: number;
  readonly p99OpenToAssignmentMs: number;
  /** Times the round was opened: more than once when a change of leader aborted it. */
  readonly openings: number;
  /** From the round's last ready to its (last) opening: the leader's share of the latency. */
  readonly lastReadyToOpenMs: number;
}

interface CpuSample {
  readonly relays: number[];
  readonly postgres: number | null;
  readonly bench: number;
}

export async function measureCluster(
  volunteers: number,
  options: {
    readonly relays: number;
    readonly rounds: number;
    readonly databaseUrl: string;
    readonly failover: boolean;
    readonly logPrefix: string | null;
    readonly progress: (line: string) => void;
  },
): Promise<ClusterRow> {
  const config = clusterRunConfig(volunteers);
  const cluster = await startRelayCluster({
    count: options.relays,
    run: config,
    dataset: 'brown',
    databaseUrl: options.databaseUrl,
    logPrefix: options.logPrefix,
  });
  const shared = new SharedStates(config);
  await shared.init();
  const network = new MemoryNetwork();
  const cpuAt = new Map<number, CpuSample>();
  const sample = (): CpuSample => {
    const usage = process.cpuUsage();
    return {
      relays: cluster.cpuSeconds(),
      postgres: postgresCpuSeconds(),
      bench: (usage.user + usage.system) / 1e6,
    };
  };
  // At the first commit a volunteer sees: the rounds' CPU, commit to commit.
  const onCommitted = (round: number) => {
    if (!cpuAt.has(round)) cpuAt.set(round, sample());
  };
  const sims: ClusterSim[] = [];
  const lastRound = options.rounds;
  const committedBy = (round: number) => sims.filter((s) => s.committed.has(round)).length;
  const progress = setInterval(() => {
    const round = Math.max(-1, ...sims.flatMap((s) => [...s.committed.keys()]));
    options.progress(
      `${volunteers} on ${options.relays} relays: ${sims.length} joined, round ${round} committed by ${committedBy(round)}`,
    );
  }, 30_000);
  try {
    const joinStarted = Date.now();
    for (let i = 0; i < volunteers; i += 32) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(32, volunteers - i) }, (_, j) =>
          joinCluster({
            index: i + j,
            entry: cluster.urls[(i + j) % options.relays] as string,
            runId: cluster.runId,
            shared,
            network,
            onCommitted,
          }),
        ),
      );
      sims.push(...batch);
    }
    const joinSeconds = (Date.now() - joinStarted) / 1000;
    const knowEveryRelay = sims.filter((s) => cluster.urls.every((url) => s.known().includes(url))).length;
    const handovers = watchLease(cluster);
    const done = await waitUntil(
      () => committedBy(lastRound) === volunteers || handovers.count >= MAX_HANDOVERS,
      ROW_TIMEOUT_MS,
      200,
    );
    handovers.stop();
    if (!done || committedBy(lastRound) < volunteers) {
      const round = Math.max(-1, ...sims.flatMap((s) => [...s.committed.keys()]));
      throw new Error(
        `round ${lastRound} not committed by every volunteer (the last round committed: ${round}, by ${committedBy(round)}); ` +
          `the lease changed hands ${handovers.count} times (each aborts the round under way: a leader that stalls ` +
          "past its lease loses it, and its commit is refused; the relays' logs say when)",
      );
    }
    const leader = await cluster.leader();
    const row = figures(sims, config, cpuAt, lastRound);
    const failover = options.failover ? await failOver(cluster, sims, lastRound, FAILOVER_TIMEOUT_MS) : null;
    return {
      ...row,
      volunteers,
      relays: options.relays,
      leader,
      joinSeconds,
      knowEveryRelay,
      modelFloats: shared.layout.totalFloats,
      frameBytes: frameBytesOf(shared),
      failover,
    };
  } finally {
    clearInterval(progress);
    await Promise.all(sims.map((s) => s.stop()));
    await cluster.stop();
  }
}

/** Counts the times the lease moves to another relay (polled: /healthz says who leads). */
function watchLease(cluster: RelayCluster): { readonly count: number; stop(): void } {
  let last: string | null = null;
  let polling = false;
  const watch = {
    count: 0,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(async () => {
    if (polling) return;
    polling = true;
    const now = await cluster.leaderId();
    polling = false;
    if (now === null) return;
    if (last !== null && now !== last) watch.count++;
    last = now;
  }, 1_000);
  return watch;
}

/** One volunteer's frame of the row's model, as the synthetic engine sends it. */
function frameBytesOf(shared: SharedStates): number {
  const rng = createRng(7);
  return shared.frame({ round: 0, seed: 12_345 }, () => rng.nextFloat()).length;
}

/** The row's figures over rounds 1..lastRound (round 0 seats everyone as they join). */
function figures(
  sims: readonly ClusterSim[],
  config: RunConfig,
  cpuAt: ReadonlyMap<number, CpuSample>,
  lastRound: number,
): Omit<
  ClusterRow,
  | 'volunteers'
  | 'relays'
  | 'leader'
  | 'joinSeconds'
  | 'knowEveryRelay'
  | 'frameBytes'
  | 'modelFloats'
  | 'failover'
> {
  const readyToAssignment: number[] = [];
  const openToAssignment: number[] = [];
  let seated = 0;
  const roundsMs: number[] = [];
  let sent = 0;
  let received = 0;
  let pairs = 0;
  const rounds: RoundFigures[] = [];
  for (let r = 1; r <= lastRound; r++) {
    const assignments = sims
      .map((s) => s.assigned.filter((a) => a.round === r).at(-1))
      .filter((a) => a !== undefined);
    seated += assignments.length;
    const lastReady = Math.max(...assignments.map((a) => a.readyAt ?? Number.NEGATIVE_INFINITY));
    const ready = assignments.map((a) => a.at - Math.max(lastReady, a.readyAt ?? lastReady));
    const open = assignments.map((a) => a.at - (a.deadline - ROUND_MS));
    readyToAssignment.push(...ready);
    openToAssignment.push(...open);
    const deadlines = new Set(
      sims.flatMap((s) => s.assigned.filter((a) => a.round === r).map((a) => a.deadline)),
    );
    rounds.push({
      round: r,
      seated: assignments.length,
      p50ReadyToAssignmentMs: percentile(ready, 0.5),
      p99ReadyToAssignmentMs: percentile(ready, 0.99),
      p99OpenToAssignmentMs: percentile(open, 0.99),
      openings: deadlines.size,
      lastReadyToOpenMs: Math.max(...assignments.map((a) => a.deadline)) - ROUND_MS - lastReady,
    });
    const committedAt = (round: number) => Math.max(...sims.map((s) => s.committed.get(round)?.at ?? 0));
    roundsMs.push(committedAt(r) - committedAt(r - 1));
    for (const s of sims) {
      const a = s.committed.get(r - 1);
      const b = s.committed.get(r);
      if (!a || !b) continue;
      sent += b.sent - a.sent;
      received += b.received - a.received;
      pairs++;
    }
  }
  const first = cpuAt.get(0) as CpuSample;
  const last = cpuAt.get(lastRound) as CpuSample;
  const perRound = (a: number, b: number) => (b - a) / lastRound;
  return {
    gatherMs: config.schedule.gatherMs,
    seatedFraction: seated / (sims.length * lastRound),
    p50ReadyToAssignmentMs: percentile(readyToAssignment, 0.5),
    p99ReadyToAssignmentMs: percentile(readyToAssignment, 0.99),
    p50OpenToAssignmentMs: percentile(openToAssignment, 0.5),
    p99OpenToAssignmentMs: percentile(openToAssignment, 0.99),
    rounds,
    roundsSeconds: roundsMs.map((x) => x / 1000),
    roundSeconds: roundsMs.reduce((a, b) => a + b, 0) / lastRound / 1000,
    relayCpuSecondsPerRound: last.relays.map((cpu, i) => perRound(first.relays[i] as number, cpu)),
    postgresCpuSecondsPerRound:
      first.postgres === null || last.postgres === null ? null : perRound(first.postgres, last.postgres),
    benchCpuSecondsPerRound: perRound(first.bench, last.bench),
    bytesSentPerVolunteer: Math.round(sent / pairs),
    bytesReceivedPerVolunteer: Math.round(received / pairs),
  };
}
