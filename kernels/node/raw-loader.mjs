// Node module hook so the Node commands can `import src from './x.wgsl?raw'` exactly as Vite
// code does. Registered with `node --import ./kernels/node/raw-loader.mjs`.
import { register } from 'node:module';

register(new URL('./raw-loader-hooks.mjs', import.meta.url));
