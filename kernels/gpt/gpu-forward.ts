// The GPU model's forward pass, recorded once per (B, T): embedding, blocks, final LayerNorm
// and the tied classifier's logits. The op order mirrors CpuGpt.forward (kernels/reference/gpt.ts).
// A block and the head have recorders of their own, so that a pipeline stage
// (kernels/pipeline/gpu-stage.ts) records just its layer range with this same code.

import { LNF_BIAS, LNF_WEIGHT, WPE, WTE } from '../../protocol/param-layout.ts';
import type { Dispatch } from '../gpu/context.ts';
import { attentionForward } from '../ops/attention.ts';
import { encoderForward } from '../ops/encoder.ts';
import { geluForward } from '../ops/gelu.ts';
import { layernormForward } from '../ops/layernorm.ts';
import { classifierForward, linearForward } from '../ops/matmul.ts';
import { residualForward } from '../ops/residual.ts';
import type { Activations, BlockBuffers } from './activations.ts';
import { type BlockPass, blockScope, type PassContext, passSizes } from './pass-context.ts';

/** Embedding, blocks, final LayerNorm and logits: everything before the loss. */
export function recordForward(pass: PassContext): Dispatch[] {
  const { ctx, acts, inputs } = pass;
  const p = pass.param;
  const d: Dispatch[] = [];
  d.push(...encoderForward(ctx, { out: acts.encoded, wte: p(WTE), wpe: p(WPE) }, inputs));
  let residual = acts.encoded;
  acts.blocks.forEach((a, l) => {
    d.push(...recordBlockForward(pass, l, a, residual));
    residual = a.residual3;
  });
  d.push(...recordHeadForward(pass, acts, residual));
  return d;
}

/** Block `layer` (its global index: it names the parameters) from `residual` to a.residual3. */
export function recordBlockForward(
  pass: BlockPass,
  layer: number,
  a: BlockBuffers,
  residual: GPUBuffer,
): Dispatch[] {
  const { ctx, B, T, matmul, attention, param: p } = pass;
  const { C, NH, N, names: n, label } = blockScope(pass, layer);
  return [
    ...layernormForward(
      ctx,
      { out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: residual, weight: p(n.ln1w), bias: p(n.ln1b) },
      { N, C },
      `${label}.ln1`,
    ),
    ...linearForward(
      ctx,
      {
        out: a.qkv,
        inp: a.ln1,
        weight: p(n.qkvw),
        bias: p(n.qkvb),
        M: N,
        K: C,
        N: 3 * C,
        label: `${label}.qkv`,
      },
      matmul,
    ),
    ...attentionForward(
      ctx,
      { out: a.atty, lse: a.lse, qkv: a.qkv, B, T, C, NH, label: `${label}.attn` },
      attention,
    ),
    ...linearForward(
      ctx,
      {
        out: a.attproj,
        inp: a.atty,
        weight: p(n.attprojw),
        bias: p(n.attprojb),
        M: N,
        K: C,
        N: C,
        label: `${label}.attproj`,
      },
      matmul,
    ),
    ...residualForward(ctx, { out: a.residual2, a: residual, b: a.attproj }, N * C, `${label}.residual2`),
    ...layernormForward(
      ctx,
      {
        out: a.ln2,
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
        inp: a.residual2,
        weight: p(n.ln2w),
        bias: p(n.ln2b),
      },
      { N, C },
      `${label}.ln2`,
    ),
    ...linearForward(
      ctx,
      {
        out: a.fch,
        inp: a.ln2,
        weight: p(n.fcw),
        bias: p(n.fcb),
        M: N,
        K: C,
        N: 4 * C,
        label: `${label}.fc`,
      },
      matmul,
    ),
    ...geluForward(ctx, { out: a.fchGelu, inp: a.fch }, N * 4 * C, `${label}.gelu`),
    ...linearForward(
      ctx,
      {
        out: a.fcproj,
        inp: a.fchGelu,
        weight: p(n.fcprojw),
        bias: p(n.fcprojb),
        M: N,
        K: 4 * C,
        N: C,
        label: `${label}.fcproj`,
      },
      matmul,
    ),
    ...residualForward(ctx, { out: a.residual3, a: a.residual2, b: a.fcproj }, N * C, `${label}.residual3`),
  ];
}

/** Final LayerNorm and the tied classifier: `residual` (the last block's output) to logits. */
export function recordHeadForward(
  pass: BlockPass,
  acts: Pick<Activations, 'lnf' | 'lnfMean' | 'lnfRstd' | 'logits'>,
  residual: GPUBuffer,
): Dispatch[] {
  const { ctx, matmul, param: p } = pass;
  const { C, V, N } = passSizes(pass);
  return [
    ...layernormForward(
      ctx,
      {
        out: acts.lnf,
        mean: acts.lnfMean,
        rstd: acts.lnfRstd,
        inp: residual,
        weight: p(LNF_WEIGHT),
        bias: p(LNF_BIAS),
      },
      { N, C },
      'lnf',
    ),
    classifierForward(ctx, { logits: acts.logits, x: acts.lnf, wte: p(WTE), M: N, C, V }, matmul),
  ];
}
