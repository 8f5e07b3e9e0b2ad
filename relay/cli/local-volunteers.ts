// `npm start -- --volunteers N`: headless volunteers as child processes of the relay command,
// each with its own name, key and state folder, so one machine shows a whole run: rounds
// committing, the leaderboard filling. Each child is the ordinary `npm run volunteer`.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function startLocalVolunteers(
  count: number,
  relayUrl: string,
  say: (line: string) => void,
): ChildProcess[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `local-${i + 1}`;
    const child = spawn(
      process.execPath,
      [
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
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
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
