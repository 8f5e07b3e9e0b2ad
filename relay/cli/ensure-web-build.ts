// The pages the relay serves are Vite's build of web/. `npm start` builds them when dist/web
// is missing or older than any file under web/, so a fresh clone needs no separate step and
// an edited page is never served stale.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEB_DIST = join(ROOT, 'dist', 'web');
/** Sources the page is built from: the page itself and the code it bundles. */
const SOURCES = ['web', 'kernels', 'protocol'].map((dir) => join(ROOT, dir));

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const { mtimeMs } = await stat(join(entry.parentPath, entry.name));
    newest = Math.max(newest, mtimeMs);
  }
  return newest;
}

export async function ensureWebBuild(say: (line: string) => void): Promise<string> {
  const built = await stat(join(WEB_DIST, 'index.html')).catch(() => null);
  const sources = Math.max(...(await Promise.all(SOURCES.map(newestMtime))));
  if (built && built.mtimeMs >= sources) return WEB_DIST;
  say(built ? 'the pages changed: rebuilding dist/web …' : 'building the pages into dist/web (once) …');
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'warn' });
  return WEB_DIST;
}
