// The floors of docs/ARCHITECTURE.md, checked on the source: every production file is reached
// from a production entry point (harnesses belong under test/), protocol/ depends on nothing,
// and the relay holds no GPU code. A relative import is followed the way Node and Vite
// resolve it; `?raw` and `?worker` suffixes name the same file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');

/** What a user or an operator runs: package.json's scripts and the two pages. */
const ENTRY_POINTS = [
  'relay/cli/start.ts',
  'relay/cli/prepare.ts',
  'relay/cli/relay-key.ts',
  'relay/cli/cooldown.ts',
  'kernels/node/cli/train.ts',
  'kernels/node/cli/eval.ts',
  'kernels/node/raw-loader.mjs',
  'web/node/volunteer-cli.ts',
  'web/src/main.ts',
  'web/src/leaderboard/main.ts',
];

const PRODUCTION_FOLDERS = ['protocol', 'kernels', 'relay', 'web'];

/**
 * The CPU references are the specification every kernel is tested against (each op, and the
 * whole model against PyTorch's vectors): they sit beside the kernels they specify, and only
 * tests run them.
 */
const SPECIFICATION = 'kernels/reference/';

/** Static and dynamic imports, and modules named by URL (a worker, a loader hook). */
const IMPORT = /(?:\bfrom|\bimport|\bnew URL)\s*\(?\s*['"](\.{1,2}\/[^'"?]+)(?:\?[^'"]*)?['"]/g;
const COMMENT = /\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm;

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .map((file) => join(folder, file))
    .filter((file) => /\.(ts|mjs|wgsl)$/.test(file) && !file.endsWith('.d.ts'))
    .filter((file) => !file.endsWith('vite.config.ts'));
}

function importsOf(file: string): string[] {
  if (file.endsWith('.wgsl')) return [];
  const text = readFileSync(join(ROOT, file), 'utf8').replace(COMMENT, '');
  return [...text.matchAll(IMPORT)]
    .map((match) => normalize(join(dirname(file), match[1] as string)))
    .filter((target) => /\.(ts|mjs|js|wgsl)$/.test(target)); // not a folder named by URL
}

function reachable(entries: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...entries];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    if (existsSync(join(ROOT, file))) pending.push(...importsOf(file));
  }
  return seen;
}

describe('the import graph', () => {
  it('has entry points that package.json runs or the pages load', () => {
    const scripts = JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts);
    const pages = ['web/index.html', 'web/leaderboard.html'].map((page) =>
      readFileSync(join(ROOT, page), 'utf8'),
    );
    for (const entry of ENTRY_POINTS) {
      const named = scripts.includes(entry) || pages.some((page) => page.includes(relative('web', entry)));
      expect(named, entry).toBe(true);
    }
  });

  it('reaches every production file from an entry point', () => {
    const reached = reachable(ENTRY_POINTS);
    const unreached = PRODUCTION_FOLDERS.flatMap(sourceFiles).filter(
      (file) => !reached.has(file) && !file.startsWith(SPECIFICATION),
    );
    expect(unreached).toEqual([]);
  });

  it('reaches only files that exist', () => {
    const missing = [...reachable(ENTRY_POINTS)].filter((file) => !existsSync(join(ROOT, file)));
    expect(missing).toEqual([]);
  });

  it('keeps protocol/ free of every other floor and of Node', () => {
    for (const file of sourceFiles('protocol')) {
      for (const target of importsOf(file))
        expect(target.startsWith('protocol/'), `${file} → ${target}`).toBe(true);
      expect(readFileSync(join(ROOT, file), 'utf8'), file).not.toMatch(/from 'node:/);
    }
  });

  it('keeps GPU code out of the relay (it scores states with the CPU reference model only)', () => {
    for (const file of sourceFiles('relay')) {
      for (const target of importsOf(file)) {
        const gpuOrPage =
          (target.startsWith('kernels/') && !target.startsWith('kernels/reference/')) ||
          target.startsWith('web/');
        expect(gpuOrPage, `${file} → ${target}`).toBe(false);
      }
    }
  });

  it('keeps the engine apart from the relay and the pages (its Node commands read prepared datasets)', () => {
    for (const file of sourceFiles('kernels')) {
      for (const target of importsOf(file)) {
        const crosses =
          target.startsWith('web/') || (target.startsWith('relay/') && !file.startsWith('kernels/node/cli/'));
        expect(crosses, `${file} → ${target}`).toBe(false);
      }
    }
  });

  it('keeps the pages free of relay code', () => {
    for (const file of sourceFiles('web/src')) {
      for (const target of importsOf(file))
        expect(target.startsWith('relay/'), `${file} → ${target}`).toBe(false);
    }
  });
});
