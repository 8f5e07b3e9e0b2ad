// The real relay (`npm start`'s entry point) as a child process for bench:scale, so its CPU
// time is its own: read from /proc after each round. It runs API-only on loopback with a run
// config file and trusts x-forwarded-for, so each simulated volunteer can come from an address
// of its own, as a public swarm's volunteers do (the per-address caps stay on). Given a
// PostgreSQL URL it is one relay of a cluster (relay-cluster.ts): it listens on a port chosen
// beforehand, so the address it tells volunteers (--public-url) is known when it starts.
// BENCH_RELAY_LOG_LEVEL (default warn) and BENCH_RELAY_NODE_ARGS (node flags) help look into one.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RelayProcess {
  readonly url: string;
  readonly runId: string;
  readonly pid: number;
  /** User + system CPU seconds the relay process has used so far (its last reading once it died). */
  cpuSeconds(): number;
  /** Whether the process still runs. */
  alive(): boolean;
  /** SIGKILL: no shutdown, no flush, like a power cut. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface RelayProcessOptions {
  /** The state folder (a cluster's relays hold a copy of one key there); default a fresh one. */
  readonly stateDir?: string;
  /** PostgreSQL instead of PGlite in the state folder: relays given one URL serve one run. */
  readonly databaseUrl?: string;
  /** The port to listen on; default any free one. */
  readonly port?: number;
  /** The relay's output (LOG_LEVEL=warn) is appended here too. */
  readonly logFile?: string;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
/** Relays still running: killed when the bench exits (an error, Ctrl-C), so none is left behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
/** Output kept for an error message: the end is what explains an exit. */
const TAIL_CHARS = 20_000;

/** A port free now, for a relay that must know its address before it listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** User + system CPU seconds of process `pid`, from /proc/PID/stat; null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // exited (and reaped): nothing left to read
  }
  // Fields 14 and 15 of /proc/PID/stat (after the command in parentheses): utime, stime.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export async function startRelayProcess(
  run: Record<string, unknown>,
  dataset: string,
  options: RelayProcessOptions = {},
): Promise<RelayProcess> {
  const dir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'potluck-scale-')));
  const runFile = join(dir, 'run.json');
  await writeFile(runFile, JSON.stringify(run));
  const port = options.port ?? 0;
  const cluster = options.databaseUrl
    ? ['--database-url', options.databaseUrl, '--public-url', `http://127.0.0.1:${port}`]
    : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // For looking into a relay: e.g. BENCH_RELAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR'.
      ...(process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      'relay/cli/start.ts',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--state',
      dir,
      '--run',
      runFile,
      '--dataset',
      dataset,
      '--trust-proxy-header',
      'x-forwarded-for',
      '--api-only',
      ...cluster,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.BENCH_RELAY_LOG_LEVEL ?? 'warn' },
    },
  );
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
  let output = '';
  const onData = (chunk: Buffer) => {
    log?.write(chunk);
    output = (output + chunk.toString()).slice(-TAIL_CHARS);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const match = /open (http:\/\/[^\s/]+)\//.exec(output);
      if (match) {
        child.stdout?.off('data', look);
        child.stderr?.off('data', look);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => reject(new Error(`the relay exited (${code}):\n${output}`)));
  });
  const pid = child.pid as number;
  let lastCpu = 0;
  const alive = () => child.exitCode === null && child.signalCode === null;
  // A killed relay's last reading stands: its CPU up to the kill.
  const cpuSeconds = () => {
    if (alive()) lastCpu = processCpuSeconds(pid) ?? lastCpu;
    return lastCpu;
  };
  return {
    url,
    // A relay of a cluster that does not lead (yet) answers 503 here until one does.
    runId: await firstRunId(url, () => output),
    pid,
    cpuSeconds,
    alive,
    async kill() {
      if (!alive()) return;
      cpuSeconds();
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (alive()) {
        child.kill('SIGTERM');
        await exited;
      }
      log?.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function firstRunId(url: string, output: () => string): Promise<string> {
  const started = Date.now();
  for (;;) {
    const response = await fetch(`${url}/api/runs`);
    if (response.ok) {
      const runs = (await response.json()) as { runs: { id: string }[] };
      return runs.runs[0]?.id as string;
    }
    if (Date.now() - started > 60_000)
      throw new Error(`${url}/api/runs answered ${response.status} for a minute:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
