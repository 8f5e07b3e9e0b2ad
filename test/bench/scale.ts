// npm run bench:scale: does everyone who shows up train, with flat traffic per volunteer, and do
// several relays on one PostgreSQL serve thousands of them and survive losing the leader?
// With one relay (scale/one-relay.ts), for 16, 64, 256 and 1,024 simulated volunteers of the
// default model: the fraction seated, bytes per volunteer, links, modelled round time, relay CPU.
// With several (scale/cluster-row.ts), for 300 and 3,000 volunteers of a small model over 3
// relays, each its own process: ready-to-assignment latency, round wall time, CPU per relay and
// of PostgreSQL; then the leading relay is SIGKILLed mid-round (scale/failover.ts): seconds
// until every orphaned volunteer is seated again, and credits lost.
import { parseArgs } from 'node:util';
import { paramLayout } from '../../protocol/param-layout.ts';
import { createRng } from '../../protocol/rng.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { clusterLine, type FailedRow, failedLine, failoverLine, goalsLine } from './scale/cluster-lines.ts';
import { type ClusterRow, measureCluster } from './scale/cluster-row.ts';
import { LINK } from './scale/link-model.ts';
import { measureOneRelay, type Row } from './scale/one-relay.ts';
import { SharedStates } from './scale/synthetic-engine.ts';

const DEFAULT_DATABASE_URL = 'postgres://potluck:potluck@localhost:5432/potluck';

const HELP = `Usage: npm run bench:scale -- [options]

Seats N simulated volunteers (synthetic engines, the real relays and runtime). With one relay it
measures, per round: the fraction of ready volunteers seated, bytes each sends and receives,
links each keeps, the modelled round time, the relay's CPU seconds, and the relay's egress for
a joiner. With several relays on one PostgreSQL (a small model): ready-to-assignment latency,
round wall time, CPU seconds per relay and of PostgreSQL, and the failover after the leading
relay is SIGKILLed mid-round. A row that fails is printed with why; the bench then exits 1.

  --sizes LIST         volunteer counts (default 16,64,256,1024 on one relay, 300,3000 on several)
  --relays LIST        relay counts (default 1,3); several share one PostgreSQL
  --rounds R           rounds measured after the first (default 2)
  --database-url URL   (DATABASE_URL) a PostgreSQL database where the bench may create a schema
                       per row, dropped after it; default ${DEFAULT_DATABASE_URL}
  --logs PREFIX        append each relay's output (LOG_LEVEL=warn) to PREFIX-<size>-relay-<i>.log
  --no-failover        skip the failover after each row with several relays
  --json               end with one JSON line: {"rows":[...],"checkpointBytes","frameBytes",
                       "failoverSeconds","failoverCreditsLost","failoverVolunteers"} (the
                       failover of the largest row that measured one)
  -h, --help           this text

Looking into a relay: BENCH_RELAY_LOG_LEVEL (default warn) sets the relays' LOG_LEVEL, and
BENCH_RELAY_NODE_ARGS adds node flags to them (e.g. '--cpu-prof --cpu-prof-dir=DIR').`;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    relays: { type: 'string' },
    rounds: { type: 'string' },
    'database-url': { type: 'string' },
    logs: { type: 'string' },
    'no-failover': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
// Ctrl-C or a kill: exit, so the relays started are killed (scale/relay-process.ts); a cluster
// row's schema (bench_scale_*) and state folders are left for whoever looks into why.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const list = (text: string) => text.split(',').map(Number);
const relayCounts = list(values.relays ?? '1,3');
const sizesFor = (relays: number) => list(values.sizes ?? (relays === 1 ? '16,64,256,1024' : '300,3000'));
const measuredRounds = Number(values.rounds ?? 2);
const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
for (const n of [...relayCounts, measuredRounds, ...relayCounts.flatMap(sizesFor)])
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench:scale: counts must be whole numbers of at least 1\n\n${HELP}`);
    process.exit(2);
  }

const floats = paramLayout(DEFAULT_RUN.model).totalFloats;
// One compressed frame of the default model, as a volunteer sends it (every candidate at 1 bit).
const reference = new SharedStates(DEFAULT_RUN);
const frameRng = createRng(7);
const frameBytes = reference.frame({ round: 0, seed: 12_345 }, () => frameRng.nextFloat()).length;
console.log(
  `bench:scale: the default model (${floats} floats), one frame ${frameBytes} bytes, groups of ${DEFAULT_RUN.schedule.maxGroupSize}, aggregate at ${DEFAULT_RUN.round.aggregateBits} bits`,
);
const rows: (Row | ClusterRow | FailedRow)[] = [];
const oneRelay: Row[] = [];
const several: (ClusterRow | FailedRow)[] = [];
let checkpoint = 0;
for (const relays of relayCounts) {
  for (const n of sizesFor(relays)) {
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    if (relays === 1) {
      const { row, checkpointBytes } = await measureOneRelay(n, LINK, measuredRounds);
      checkpoint = checkpointBytes;
      rows.push(row);
      oneRelay.push(row);
      console.log(
        `${String(n).padStart(5)} volunteers: seated ${(100 * row.seatedFraction).toFixed(1)}%, sent ${(row.bytesSentPerVolunteer / frameBytes).toFixed(2)} frames, received ${(row.bytesReceivedPerVolunteer / frameBytes).toFixed(2)} frames, ${row.connectionsPerVolunteer.toFixed(1)} links, round ${row.roundSeconds.toFixed(2)} s (without training), relay CPU ${row.relayCpuSecondsPerRound.toFixed(2)} s/round, join takes ${row.relayEgressPerJoinBytes} bytes from the relay (${elapsed().toFixed(0)} s)`,
      );
      continue;
    }
    let row: ClusterRow | FailedRow;
    try {
      row = await measureCluster(n, {
        relays,
        rounds: measuredRounds,
        databaseUrl,
        failover: !values['no-failover'],
        logPrefix: values.logs ? `${values.logs}-${n}` : null,
        progress: (line) => process.stderr.write(`bench:scale: ${line}\n`),
      });
    } catch (error) {
      // One row that breaks (a relay or the database giving way) is a figure too: the rest go on.
      row = { volunteers: n, relays, error: error instanceof Error ? error.message : String(error) };
    }
    rows.push(row);
    several.push(row);
    if ('error' in row) console.log(failedLine(row, elapsed()));
    else {
      console.log(clusterLine(row, elapsed()));
      if (row.failover) console.log(failoverLine(row, row.failover));
    }
  }
}
if (oneRelay.length > 0) {
  const first = oneRelay[0] as Row;
  const last = oneRelay[oneRelay.length - 1] as Row;
  console.log(
    `at ${last.volunteers} against ${first.volunteers}: bytes per volunteer ×${(last.bytesSentPerVolunteer / first.bytesSentPerVolunteer).toFixed(3)} sent, ×${(last.bytesReceivedPerVolunteer / first.bytesReceivedPerVolunteer).toFixed(3)} received; relay CPU per volunteer ×${(last.relayCpuSecondsPerRound / last.volunteers / (first.relayCpuSecondsPerRound / first.volunteers)).toFixed(2)}; anchor: 16 seated at most before (one group of maxGroupSize)`,
  );
} else {
  // The default model's checkpoint, for the JSON line, when no one-relay row made one.
  const states = new SharedStates(DEFAULT_RUN);
  await states.init();
  checkpoint = (await states.checkpointBytes()).length;
}
if (several.length > 0) console.log(goalsLine(several));
// The failover of the largest row that measured one.
const failedOver = several.filter((r): r is ClusterRow => 'failover' in r && r.failover !== null).at(-1);
if (values.json)
  console.log(
    JSON.stringify({
      rows,
      checkpointBytes: checkpoint,
      frameBytes,
      failoverSeconds: failedOver?.failover?.orphansSeatedSeconds ?? null,
      failoverCreditsLost: failedOver?.failover?.creditsLost ?? null,
      failoverVolunteers: failedOver?.volunteers ?? null,
    }),
  );
process.exit(several.some((r) => 'error' in r) ? 1 : 0);
