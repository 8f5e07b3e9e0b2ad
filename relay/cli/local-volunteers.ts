// `npm start -- --volunteers N`: headless volunteers as child processes of the relay command,
// each with its own name, key and state folder, so one machine shows a whole run: rounds
// committing, the leaderboard filling. Each child is the ordinary `npm run volunteer`.
// Everything a child writes lives in the relay's state folder (issue 17): its folder is
// <state>/volunteer/local-N and the shared autotune choices <state>/autotune.json, so two
// relays started with different --state never share a volunteer's key or receipts.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How to start one local volunteer: its name, `node`'s arguments and the spawn options. */
export interface LocalVolunteerSpawn {
  readonly name: string;
  readonly args: readonly string[];
  readonly options: SpawnOptions & { cwd: string; env: NodeJS.ProcessEnv };
}

/**
 * The `index`-th (from 0) local volunteer of the relay at `relayUrl` whose state folder is
 * `stateDir`: POTLUCK_STATE names that folder to the child (web/node/volunteer-paths.ts).
 */
export function localVolunteerSpawn(
  index: number,
  relayUrl: string,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): LocalVolunteerSpawn {
  const name = `local-${index + 1}`;
  return {
    name,
    args: [
      '--import',
      'tsx',
      '--import',
      './kernels/node/raw-loader.mjs',
      'web/node/volunteer-cli.ts',
      '--relay',
      relayUrl,
      '--name',
      name,
    ],
    options: { cwd: ROOT, env: { ...env, POTLUCK_STATE: stateDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  };
}

export function startLocalVolunteers(
  count: number,
  relayUrl: string,
  stateDir: string,
  say: (line: string) => void,
): ChildProcess[] {
  return Array.from({ length: count }, (_, i) => {
    const { name, args, options } = localVolunteerSpawn(i, relayUrl, stateDir);
    const child = spawn(process.execPath, args, options);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      // Dawn's loader warnings on GPU-less machines are noise here; everything else is shown.
      createInterface({ input: stream }).on('line', (line) => {
        if (!/XDG_RUNTIME_DIR|shaderUniform|While initializing adapter|InitializeImpl|^\s*$/.test(line))
          say(line);
      });
    }
    child.on('exit', (code) => say(`[${name}] exited with ${code}`));
    return child;
  });
}
