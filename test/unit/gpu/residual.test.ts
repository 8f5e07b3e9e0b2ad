import { describe, expect, it } from 'vitest';
import residualSource from '../../../kernels/wgsl/residual_forward.wgsl?raw';
import { nodeContext } from '../../helpers/node-context.ts';

describe('residual_forward', () => {
  it('adds two vectors', async () => {
    const ctx = await nodeContext();
    const n = 1000;
    const a = Float32Array.from({ length: n }, (_, i) => i);
    const b = Float32Array.from({ length: n }, (_, i) => 2 * i);
    const out = ctx.createStorage('out', n * 4);
    const d = ctx.dispatch(
      'residual',
      { name: 'residual_forward', source: residualSource },
      [out, ctx.createStorageFrom('a', a), ctx.createStorageFrom('b', b), ctx.createUniform('p', [n])],
      [Math.ceil(n / 256)],
    );
    ctx.run([d]);
    const got = await ctx.readFloats(out);
    expect(got[999]).toBe(2997);
    console.log('adapter', ctx.adapter);
  });
});
