import { describe, expect, it } from 'vitest';
import { blockNames } from '../../../protocol/param-layout.ts';

describe('blockNames', () => {
  it("names a block's tensors as Hugging Face's GPT2LMHeadModel does, each weight before its bias", () => {
    expect(Object.entries(blockNames(3))).toEqual([
      ['ln1w', 'transformer.h.3.ln_1.weight'],
      ['ln1b', 'transformer.h.3.ln_1.bias'],
      ['qkvw', 'transformer.h.3.attn.c_attn.weight'],
      ['qkvb', 'transformer.h.3.attn.c_attn.bias'],
      ['attprojw', 'transformer.h.3.attn.c_proj.weight'],
      ['attprojb', 'transformer.h.3.attn.c_proj.bias'],
      ['ln2w', 'transformer.h.3.ln_2.weight'],
      ['ln2b', 'transformer.h.3.ln_2.bias'],
      ['fcw', 'transformer.h.3.mlp.c_fc.weight'],
      ['fcb', 'transformer.h.3.mlp.c_fc.bias'],
      ['fcprojw', 'transformer.h.3.mlp.c_proj.weight'],
      ['fcprojb', 'transformer.h.3.mlp.c_proj.bias'],
    ]);
  });
});
