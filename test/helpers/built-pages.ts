// The volunteer and leaderboard pages built into a fresh folder, for a test relay to serve.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Builds web/ (vite) into a new temporary folder; returns the folder. */
export async function buildPages(): Promise<string> {
  const webDir = await mkdtemp(join(tmpdir(), 'potluck-pages-'));
  await build({
    configFile: `${ROOT}web/vite.config.ts`,
    build: { outDir: webDir, emptyOutDir: true },
    logLevel: 'warn',
  });
  return webDir;
}
