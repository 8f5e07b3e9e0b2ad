// Node resolve hook for tfjs-core's ESM build (dist/*.js), which is written for bundlers:
// its relative imports have no extension ('./ops/neg') and one of them ('./gradients') names
// both a file and a directory. Node's ESM resolver accepts neither, so inside that folder we
// resolve as a bundler does: the `.js` file first, then the directory's index.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TFJS_CORE_DIST = '/@tensorflow/tfjs-core/dist/';

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL ?? '';
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  if (relative && parent.includes(TFJS_CORE_DIST) && !specifier.endsWith('.js')) {
    for (const candidate of [`${specifier}.js`, `${specifier}/index.js`]) {
      const url = new URL(candidate, parent);
      if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}
