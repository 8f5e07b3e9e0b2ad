// tfjs-core registers no gradients by default (since 2.0; "import
// '@tensorflow/tfjs-core/dist/register_all_gradients'" is the documented opt-in), and its Node
// build (dist/tf-core.node.js, CommonJS) has no such entry: the gradients exist only in the ESM
// build, whose bundler-style imports Node cannot resolve alone, hence ./tfjs-esm-hooks.mjs.
//
// Loading them pulls in a second (ESM) copy of tfjs-core next to the CommonJS one the backend
// uses. tfjs is built for that: the engine, the kernel and gradient registries and the flags
// live on globalThis, and `instanceof Tensor` is duck-typed, so the gradients this copy
// registers are the ones the CommonJS engine finds.
import { register } from 'node:module';
import type { Tfjs } from './tfjs-node-webgpu.ts';

let loading: Promise<unknown> | null = null;

/** Registers every tfjs-core gradient, once per process. Vitest (Vite) needs no hook but takes it. */
export async function registerTfjsGradients(tf: Tfjs): Promise<void> {
  if (tf.getGradient('Neg') === undefined) {
    loading ??= (() => {
      register('./tfjs-esm-hooks.mjs', import.meta.url);
      return import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    })();
    await loading;
  }
  if (tf.getGradient('Neg') === undefined) throw new Error('tfjs-core gradients did not register');
}
