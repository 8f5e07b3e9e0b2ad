// The real relay (`npm start`'s entry point) as a child process for bench:scale, so its CPU
// time is its own: read from /proc after each round. It runs API-only on loopback with a run
// config file and trusts x-forwarded-for, so each simulated volunteer can come from an address
// of its own, as a public swarm's volunteers do (the per-address caps stay on).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RelayProcess {
  readonly url: string;
  readonly runId: string;
  /** User + system CPU seconds the relay process has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

export async function startRelayProcess(
  run: Record<string, unknown>,
  dataset: string,
): Promise<RelayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-scale-'));
  const runFile = join(dir, 'run.json');
  await writeFile(runFile, JSON.stringify(run));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'relay/cli/start.ts',
      '--port',
      '0',
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /open (http:\/\/[^\s/]+)\//.exec(output);
      if (match) resolve(match[1] as string);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the relay exited (${code}):\n${output.slice(-2000)}`)));
  });
  const runs = (await (await fetch(`${url}/api/runs`)).json()) as { runs: { id: string }[] };
  const pid = child.pid as number;
  return {
    url,
    runId: runs.runs[0]?.id as string,
    cpuSeconds() {
      // Fields 14 and 15 of /proc/PID/stat (after the command in parentheses): utime, stime.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
