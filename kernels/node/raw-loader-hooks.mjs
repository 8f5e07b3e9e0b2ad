// Resolve/load hooks for `?raw` imports (see raw-loader.mjs).
import { readFile } from 'node:fs/promises';

const RAW_SUFFIX = '?raw';

export async function resolve(specifier, context, nextResolve) {
  if (!specifier.endsWith(RAW_SUFFIX)) return nextResolve(specifier, context);
  const url = new URL(specifier, context.parentURL);
  return { url: url.href, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith(RAW_SUFFIX)) return nextLoad(url, context);
  const text = await readFile(new URL(url.slice(0, -RAW_SUFFIX.length)), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}
