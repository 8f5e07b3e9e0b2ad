// The benchmark's processes: pinning to a core with taskset, the open-files limit, spawning a
// server and reading its CPU time from /proc.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Whether `taskset` runs here (util-linux; absent on macOS and some containers). */
export function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Pins this process, all its threads, to `core`. */
export function pinSelf(core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

/** Soft and hard limits on open files, from /proc (Node has no getrlimit). */
export function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3);
  const parse = (value: string | undefined) => (value === 'unlimited' ? Infinity : Number(value));
  return { soft: parse(soft), hard: parse(hard) };
}

/**
 * Makes sure this process may open `needed` files: if the soft limit is lower and the hard
 * limit allows, re-runs this very command under `ulimit -n` and exits with its status.
 */
export function ensureOpenFiles(needed: number): void {
  const { soft, hard } = openFileLimits();
  if (soft >= needed) return;
  if (hard < needed || process.env.POTLUCK_BENCH_RAISED_ULIMIT)
    throw new Error(`need ${needed} open files; ulimit -n is ${soft} (hard ${hard})`);
  const target = Math.min(hard, Math.max(needed, 65_536));
  const result = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n ${target} && exec "$@"`,
      'bash',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, POTLUCK_BENCH_RAISED_ULIMIT: '1' } },
  );
  process.exit(result.status ?? 1);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every Linux we run on). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** Starts `node args…` (on `core` if given) and waits for its first line of output. */
export async function spawnServer(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  core: number | undefined,
  cwd: string,
): Promise<ServerProcess> {
  const command =
    core === undefined
      ? [process.execPath, ...args]
      : ['taskset', '-c', String(core), process.execPath, ...args];
  const [file = '', ...rest] = command;
  const child = spawn(file, rest, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const ready = once(child.stdout ?? child, 'data');
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`${args.join(' ')} exited early`)))]);
  const pid = child.pid ?? 0;
  return {
    child,
    cpuSeconds() {
      // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
