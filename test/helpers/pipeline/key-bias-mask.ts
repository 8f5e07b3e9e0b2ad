// The key third of every c_attn bias: its gradient is zero in exact arithmetic (softmax ignores
// a shift shared by a query's scores), so two runs that add their floats in different orders
// hold different rounding noise there, which Adam turns into full-size steps of random sign (as
// test/unit/gpt/gpu-gpt.test.ts notes). Weight comparisons after a step leave these out.
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { blockNames, paramLayout } from '../../../protocol/param-layout.ts';

/** 1 at every key-bias element of the whole model's flat parameters, 0 elsewhere. */
export function keyBiasMask(config: GptConfig): Uint8Array {
  const layout = paramLayout(config);
  const mask = new Uint8Array(layout.totalFloats);
  const C = config.dModel;
  for (let l = 0; l < config.nLayer; l++) {
    const { offset } = layout.get(blockNames(l).qkvb);
    mask.fill(1, offset + C, offset + 2 * C);
  }
  return mask;
}

/** The values where `mask` is 0. */
export const without = (values: Float32Array, mask: Uint8Array) => values.filter((_, i) => mask[i] === 0);
