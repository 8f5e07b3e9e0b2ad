// `npm run bench:relay [-- --json] [-- --clients 1000,5000] [-- --seconds 5] [-- --warmup 2]`.

export interface RelayBenchOptions {
  /** The last stdout line is one JSON object with every figure. */
  readonly json: boolean;
  /** Connected clients, one run per count per server. */
  readonly clients: readonly number[];
  /** Clients per topic: y-webrtc rooms are small. */
  readonly roomSize: number;
  /** Per window: each server gets `rounds` windows, taking turns. */
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  readonly rounds: number;
}

export const RELAY_BENCH_HELP = `npm run bench:relay [-- options]
  --json            print one JSON object with every figure as the last line
  --clients 1000,5000  connected clients per run (default 1000,5000)
  --room-size 4     clients per topic (default 4)
  --rounds 3        measured windows per server, the servers taking turns (default 3)
  --warmup 1        seconds of load before each window (default 1)
  --seconds 2       seconds measured per window (default 2)`;

/** Parses the command line; undefined means --help was asked for. */
export function parseRelayBenchCli(args: readonly string[]): RelayBenchOptions | undefined {
  let json = false;
  let clients = [1_000, 5_000];
  let roomSize = 4;
  let warmupSeconds = 1;
  let measureSeconds = 2;
  let rounds = 3;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const number = () => {
      const parsed = Number(value());
      if (!(parsed > 0)) throw new Error(`${arg} needs a positive number`);
      return parsed;
    };
    if (arg === '--help' || arg === '-h') return undefined;
    else if (arg === '--json') json = true;
    else if (arg === '--clients') clients = value().split(',').map(Number);
    else if (arg === '--room-size') roomSize = number();
    else if (arg === '--warmup') warmupSeconds = number();
    else if (arg === '--seconds') measureSeconds = number();
    else if (arg === '--rounds') rounds = Math.round(number());
    else throw new Error(`unknown option ${arg}\n${RELAY_BENCH_HELP}`);
  }
  if (!clients.every((n) => Number.isInteger(n) && n >= roomSize))
    throw new Error('--clients needs whole numbers');
  return { json, clients, roomSize, warmupSeconds, measureSeconds, rounds };
}
