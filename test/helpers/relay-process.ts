// The relay as its own process (`npm start`'s entry), for tests that kill it: a free port to
// start it on again after a SIGKILL, and the URL it prints once it listens.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningRelay {
  readonly child: ChildProcess;
  readonly url: string;
}

/**
 * Starts `relay/cli/start.ts` with `args`; `pages` serves the built pages too (building them
 * into dist/web when stale, which takes a while the first time).
 */
/** The node arguments that run `relay/cli/start.ts` with `args`, as `npm start` does. */
export function relayCommand(args: readonly string[], pages = false): string[] {
  return [
    '--import',
    'tsx',
    '--import',
    './kernels/node/raw-loader.mjs',
    'relay/cli/start.ts',
    ...(pages ? [] : ['--api-only']),
    ...args,
  ];
}

export async function startRelayProcess(
  args: string[],
  options: { pages?: boolean; timeoutMs?: number } = {},
): Promise<RunningRelay> {
  const child = spawn(process.execPath, relayCommand(args, options.pages), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  // POTLUCK_TEST_LOG=1 shows the relay's own log when an end-to-end test needs explaining.
  if (process.env.POTLUCK_TEST_LOG) child.stdout?.on('data', (chunk) => process.stderr.write(chunk));
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relay did not start: ${stderr}`)),
      options.timeoutMs ?? 60_000,
    );
    let buffered = '';
    child.stdout?.on('data', (chunk) => {
      buffered += chunk;
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"relay listening"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        buffered = ''; // the relay logs on; nothing more is looked for
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

/** SIGKILL: no shutdown, no flush, like a power cut. */
export async function killRelay(relay: RunningRelay, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (relay.child.exitCode !== null || relay.child.signalCode !== null) return;
  const exited = new Promise((resolve) => relay.child.once('exit', resolve));
  relay.child.kill(signal);
  await exited;
}
