// The GPU model's backward pass, recorded once per (B, T): from dlogits (which the loss leaves
// in the logits buffer) to every parameter gradient, mirroring CpuGpt.backward. Gradients are
// overwritten each step except the residual stream's (`dresidual`, zeroed before each run and
// accumulated into by every branch) and the tied embedding's (the classifier writes it, the
// embedding's backward adds to it last). A block and the head have recorders of their own, so
// that a pipeline stage (kernels/pipeline/gpu-stage.ts) records just its layer range.

import { LNF_BIAS, LNF_WEIGHT, WPE, WTE } from '../../protocol/param-layout.ts';
import type { Dispatch } from '../gpu/context.ts';
import { attentionBackward } from '../ops/attention.ts';
import { encoderBackward } from '../ops/encoder.ts';
import { geluBackward } from '../ops/gelu.ts';
import { layernormBackward } from '../ops/layernorm.ts';
import { classifierBackward, linearBackward } from '../ops/matmul.ts';
import type { Activations, BlockBuffers, GradientScratch } from './activations.ts';
import { type BlockPass, blockScope, type PassContext, passSizes } from './pass-context.ts';

/** Backward from dlogits (left in the logits buffer by the loss) to every parameter gradient. */
export function recordBackward(pass: PassContext, s: GradientScratch): Dispatch[] {
  const { ctx, config, acts, inputs } = pass;
  const g = pass.grad;
  const d: Dispatch[] = [];
  const lastResidual = acts.blocks.at(-1)?.residual3 ?? acts.encoded;
  d.push(...recordHeadBackward(pass, s, acts, lastResidual));
  for (let l = config.nLayer - 1; l >= 0; l--) {
    const a = acts.blocks[l];
    if (!a) continue;
    const residualIn = l === 0 ? acts.encoded : (acts.blocks[l - 1]?.residual3 as GPUBuffer);
    d.push(...recordBlockBackward(pass, s, l, a, residualIn));
  }
  d.push(...encoderBackward(ctx, { dwte: g(WTE), dwpe: g(WPE), dout: s.dresidual }, inputs));
  return d;
}

/**
 * From dlogits (in acts.logits) through the classifier and the final LayerNorm: writes dwte
 * and the LayerNorm's gradients, and adds the gradient of `lastResidual` into s.dresidual.
 */
export function recordHeadBackward(
  pass: BlockPass,
  s: GradientScratch,
  acts: Pick<Activations, 'lnf' | 'lnfMean' | 'lnfRstd' | 'logits'>,
  lastResidual: GPUBuffer,
): Dispatch[] {
  const { ctx, matmul, param: p, grad: g } = pass;
  const { C, V, N } = passSizes(pass);
  // logits = lnf @ wte^T. dwte is written here; the embedding's backward adds to it last.
  return [
    ...classifierBackward(
      ctx,
      { dx: s.dlnf, dwte: g(WTE), dlogits: acts.logits, x: acts.lnf, wte: p(WTE), M: N, C, V },
      matmul,
    ),
    // dresidual is zeroed at the start of every step (GpuContext.run's `clear`).
    ...layernormBackward(
      ctx,
      {
        dinp: s.dresidual,
        dweight: g(LNF_WEIGHT),
        dbias: g(LNF_BIAS),
        dout: s.dlnf,
        inp: lastResidual,
        weight: p(LNF_WEIGHT),
        mean: acts.lnfMean,
        rstd: acts.lnfRstd,
      },
      { N, C },
      'lnf',
    ),
  ];
}

/**
 * Block `layer` (its global index) backward: s.dresidual holds the gradient of a.residual3 on
 * entry and that of `residualIn`, the block's input, on exit; the block's parameter gradients
 * are overwritten.
 */
export function recordBlockBackward(
  pass: BlockPass,
  s: GradientScratch,
  layer: number,
  a: BlockBuffers,
  residualIn: GPUBuffer,
): Dispatch[] {
  const { ctx, B, T, matmul, attention, param: p, grad: g } = pass;
  const { C, NH, N, names: n, label } = blockScope(pass, layer);
  // residual3 = residual2 + fcproj: dresidual is the gradient of both.
  return [
    ...linearBackward(
      ctx,
      {
        dinp: s.dfchGelu,
        dweight: g(n.fcprojw),
        dbias: g(n.fcprojb),
        dout: s.dresidual,
        inp: a.fchGelu,
        weight: p(n.fcprojw),
        M: N,
        K: 4 * C,
        N: C,
        label: `${label}.fcproj`,
      },
      matmul,
    ),
    ...geluBackward(ctx, { dinp: s.dfch, inp: a.fch, dout: s.dfchGelu }, N * 4 * C, `${label}.gelu`),
    ...linearBackward(
      ctx,
      {
        dinp: s.dlnf,
        dweight: g(n.fcw),
        dbias: g(n.fcb),
        dout: s.dfch,
        inp: a.ln2,
        weight: p(n.fcw),
        M: N,
        K: C,
        N: 4 * C,
        label: `${label}.fc`,
      },
      matmul,
    ),
    // dresidual += LayerNorm backward: now the gradient of residual2.
    ...layernormBackward(
      ctx,
      {
        dinp: s.dresidual,
        dweight: g(n.ln2w),
        dbias: g(n.ln2b),
        dout: s.dlnf,
        inp: a.residual2,
        weight: p(n.ln2w),
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
      },
      { N, C },
      `${label}.ln2`,
    ),
    // residual2 = residualIn + attproj.
    ...linearBackward(
      ctx,
      {
        dinp: s.datty,
        dweight: g(n.attprojw),
        dbias: g(n.attprojb),
        dout: s.dresidual,
        inp: a.atty,
        weight: p(n.attprojw),
        M: N,
        K: C,
        N: C,
        label: `${label}.attproj`,
      },
      matmul,
    ),
    ...attentionBackward(
      ctx,
      {
        dqkv: s.dqkv,
        dout: s.datty,
        qkv: a.qkv,
        out: a.atty,
        lse: a.lse,
        B,
        T,
        C,
        NH,
        label: `${label}.attn`,
      },
      attention,
    ),
    ...linearBackward(
      ctx,
      {
        dinp: s.dlnf,
        dweight: g(n.qkvw),
        dbias: g(n.qkvb),
        dout: s.dqkv,
        inp: a.ln1,
        weight: p(n.qkvw),
        M: N,
        K: C,
        N: 3 * C,
        label: `${label}.qkv`,
      },
      matmul,
    ),
    // dresidual += LayerNorm backward: now the gradient of the block's input.
    ...layernormBackward(
      ctx,
      {
        dinp: s.dresidual,
        dweight: g(n.ln1w),
        dbias: g(n.ln1b),
        dout: s.dlnf,
        inp: residualIn,
        weight: p(n.ln1w),
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
      },
      { N, C },
      `${label}.ln1`,
    ),
  ];
}
