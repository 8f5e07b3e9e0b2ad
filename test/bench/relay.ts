// `npm run bench:relay [-- --json]`: signaling throughput and latency of our /signal server
// against y-webrtc's own bin/server.js, measured the same way in the same run: each server a
// process of its own on core 0, this load generator on core 1, N clients in rooms of four
// keeping one publish each in flight. Both servers are up with their clients connected at
// once and take turns under load, window by window, so a neighbour that steals CPU for a
// while hurts both alike. See relay/load.ts for the load, relay/processes.ts for pinning.
import { availableParallelism } from 'node:os';
import { LoadFleet, type LoadWindow, summarize } from './relay/load.ts';
import { parseRelayBenchCli, RELAY_BENCH_HELP } from './relay/options.ts';
import {
  ensureOpenFiles,
  freePort,
  hasTaskset,
  pinSelf,
  type ServerProcess,
  spawnServer,
} from './relay/processes.ts';
import { formatTable, type RelayRun } from './relay/table.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const SERVERS = {
  'y-webrtc': { args: ['node_modules/y-webrtc/bin/server.js'], path: '/' },
  potluck: { args: ['--import', 'tsx', 'test/bench/relay/serve-signal.ts'], path: '/signal' },
} as const;
type ServerName = keyof typeof SERVERS;
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const CONNECT_BATCH = 100;

const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

const cli = parseRelayBenchCli(process.argv.slice(2));
if (!cli) {
  say(RELAY_BENCH_HELP);
  process.exit(0);
}
// Both fleets are connected at once: two sockets here per client pair, plus Node's own.
ensureOpenFiles(2 * Math.max(...cli.clients) + 1_024);

const pinned = hasTaskset() && availableParallelism() >= 2;
if (pinned) pinSelf(LOAD_CORE);
else note('taskset missing or fewer than 2 cores: servers and load generator run unpinned and share the CPU');
say(
  `relay bench: rooms of ${cli.roomSize}, closed loop (one publish in flight per client), ` +
    `${cli.rounds} rounds of ${cli.warmupSeconds}s warm-up + ${cli.measureSeconds}s measured per server; ` +
    (pinned ? `servers on core ${SERVER_CORE}, load generator on core ${LOAD_CORE}` : 'unpinned'),
);

interface Contender {
  readonly name: ServerName;
  readonly process: ServerProcess;
  readonly port: number;
  readonly fleet: LoadFleet;
  readonly windows: LoadWindow[];
}

const runs: RelayRun[] = [];
const refusedByUs: Record<string, unknown>[] = [];
for (const clients of cli.clients) {
  const contenders: Contender[] = [];
  try {
    for (const name of Object.keys(SERVERS) as ServerName[]) {
      const port = await freePort();
      const spec = SERVERS[name];
      const process_ = await spawnServer(
        spec.args,
        { PORT: String(port) },
        pinned ? SERVER_CORE : undefined,
        ROOT,
      );
      note(`${name}: connecting ${clients} clients…`);
      const fleet = await LoadFleet.connect(port, spec.path, clients, cli.roomSize, CONNECT_BATCH);
      contenders.push({ name, process: process_, port, fleet, windows: [] });
    }
    for (let round = 0; round < cli.rounds; round++) {
      for (const contender of contenders) {
        note(`${contender.name}: ${clients} clients, round ${round + 1}/${cli.rounds}`);
        const window = await contender.fleet.run(cli.warmupSeconds * 1000, cli.measureSeconds * 1000, () =>
          contender.process.cpuSeconds(),
        );
        contender.windows.push(window);
      }
    }
    for (const { name, port, fleet, windows } of contenders) {
      runs.push({ server: name, clients, ...summarize(windows), closedByServer: fleet.closedByServer });
      if (name !== 'potluck') continue;
      const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { refused: object };
      if (Object.keys(stats.refused).length > 0) refusedByUs.push({ clients, refused: stats.refused });
    }
  } finally {
    for (const { fleet, process: process_ } of contenders) {
      fleet.close();
      await process_.stop();
    }
  }
}

const find = (server: ServerName, clients: number) =>
  runs.find((run) => run.server === server && run.clients === clients);
const most = Math.max(...cli.clients);
const ratioOf = (pick: (run: RelayRun) => number) =>
  Object.fromEntries(
    cli.clients.map((n) => {
      const [ours, theirs] = [find('potluck', n), find('y-webrtc', n)];
      return [n, ours && theirs ? pick(ours) / pick(theirs) : Number.NaN];
    }),
  );
const ratios = ratioOf((run) => run.messagesPerSecond);
/** Ours / theirs messages per server CPU-second: steadier than throughput on a busy machine. */
const cpuRatios = ratioOf((run) => run.messagesPerServerCpuSecond);
const ratio = ratios[most] ?? Number.NaN;

say('');
say(formatTable(runs));
say('');
for (const n of cli.clients)
  say(
    `ours / y-webrtc at ${n} clients: ${(ratios[n] ?? Number.NaN).toFixed(2)}x messages/s, ` +
      `${(cpuRatios[n] ?? Number.NaN).toFixed(2)}x messages per server CPU-second`,
  );
const leastServerCpu = Math.min(...runs.map((run) => run.serverCpu));
if (leastServerCpu < 0.8)
  note(
    `note: a server got only ${leastServerCpu.toFixed(2)} of its core (other processes ran there); ` +
      'throughput figures are noisy, messages per CPU-second less so',
  );
const busiestLoad = Math.max(...runs.map((run) => run.loadCpu));
if (busiestLoad > 0.9)
  note(
    `warning: the load generator used ${busiestLoad.toFixed(2)} of its core; figures may be its limit, not the server's`,
  );
if (refusedByUs.length > 0) note(`warning: our server refused connections: ${JSON.stringify(refusedByUs)}`);
if (cli.json)
  say(
    JSON.stringify({
      pinned,
      roomSize: cli.roomSize,
      rounds: cli.rounds,
      warmupSeconds: cli.warmupSeconds,
      measureSeconds: cli.measureSeconds,
      runs,
      ratios,
      cpuRatios,
      refusedByUs,
      ratio,
    }),
  );
