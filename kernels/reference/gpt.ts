// The whole GPT-2 forward and backward pass on the CPU, composed from the per-op references.
// It is slow and simple on purpose: the GPU model and PyTorch's answers are checked against it.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import {
  blockNames,
  LNF_BIAS,
  LNF_WEIGHT,
  type ParamLayout,
  paramLayout,
  WPE,
  WTE,
} from '../../protocol/param-layout.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { crossEntropyForwardBackward } from './crossentropy.ts';
import { encoderBackward, encoderForward } from './encoder.ts';
import type { Floats } from './floats.ts';
import { geluBackward, geluForward } from './gelu.ts';
import { gemm } from './gemm.ts';
import { layernormBackward, layernormForward } from './layernorm.ts';
import { matmulBackward, matmulForward } from './matmul.ts';
import { residualForward } from './residual.ts';

/** What one block keeps for its backward pass. */
interface BlockActs {
  residualIn: Floats; // (BT, C)
  ln1: Floats; // (BT, C)
  ln1Mean: Floats; // (BT)
  ln1Rstd: Floats; // (BT)
  qkv: Floats; // (BT, 3C)
  atty: Floats; // (BT, C)
  lse: Floats; // (B, NH, T)
  attproj: Floats; // (BT, C)
  residual2: Floats; // (BT, C)
  ln2: Floats; // (BT, C)
  ln2Mean: Floats; // (BT)
  ln2Rstd: Floats; // (BT)
  fch: Floats; // (BT, 4C)
  fchGelu: Floats; // (BT, 4C)
  fcproj: Floats; // (BT, C)
}

export interface CpuForward {
  /** Mean cross-entropy over all B*T positions (NaN when no targets were given). */
  loss: number;
  /** (B, T, V) */
  logits: Floats;
  /** Per position losses (B*T), empty without targets. */
  losses: Floats;
  /** Everything backward needs. */
  readonly saved: {
    B: number;
    T: number;
    inputs: ArrayLike<number>;
    targets: ArrayLike<number> | null;
    blocks: BlockActs[];
    residualOut: Floats; // (BT, C): input of the final LayerNorm
    lnf: Floats;
    lnfMean: Floats;
    lnfRstd: Floats;
  };
}

export class CpuGpt {
  readonly layout: ParamLayout;

  constructor(
    readonly config: GptConfig,
    /** Flat parameters in the layout of protocol/param-layout.ts; float64 for gradient checks. */
    readonly params: Floats,
  ) {
    this.layout = paramLayout(config);
    if (params.length !== this.layout.totalFloats) {
      throw new RangeError(`params has ${params.length} floats, layout needs ${this.layout.totalFloats}`);
    }
  }

  /** Activations and gradients use the parameters' precision. */
  private alloc(n: number): Floats {
    return this.params instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  }

  /** A view of one named tensor inside `flat` (params or grads). */
  tensor(flat: Floats, name: string): Floats {
    const spec = this.layout.get(name);
    return flat.subarray(spec.offset, spec.offset + spec.size);
  }

  forward(inputs: ArrayLike<number>, targets: ArrayLike<number> | null, B: number, T: number): CpuForward {
    const { vocabSize: V, dModel: C, nLayer: L, nHead: NH } = this.config;
    const BT = B * T;
    const p = (name: string) => this.tensor(this.params, name);
    const f = (n: number) => this.alloc(n);

    let residual = f(BT * C);
    encoderForward(residual, inputs, p(WTE), p(WPE), B, T, C);
    const blocks: BlockActs[] = [];
    for (let l = 0; l < L; l++) {
      const n = blockNames(l);
      const a: BlockActs = {
        residualIn: residual,
        ln1: f(BT * C),
        ln1Mean: f(BT),
        ln1Rstd: f(BT),
        qkv: f(BT * 3 * C),
        atty: f(BT * C),
        lse: f(B * NH * T),
        attproj: f(BT * C),
        residual2: f(BT * C),
        ln2: f(BT * C),
        ln2Mean: f(BT),
        ln2Rstd: f(BT),
        fch: f(BT * 4 * C),
        fchGelu: f(BT * 4 * C),
        fcproj: f(BT * C),
      };
      layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, residual, p(n.ln1w), p(n.ln1b), BT, C);
      matmulForward(a.qkv, a.ln1, p(n.qkvw), p(n.qkvb), BT, C, 3 * C);
      attentionForward(a.atty, a.lse, a.qkv, B, T, C, NH);
      matmulForward(a.attproj, a.atty, p(n.attprojw), p(n.attprojb), BT, C, C);
      residualForward(a.residual2, residual, a.attproj, BT * C);
      layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.residual2, p(n.ln2w), p(n.ln2b), BT, C);
      matmulForward(a.fch, a.ln2, p(n.fcw), p(n.fcb), BT, C, 4 * C);
      geluForward(a.fchGelu, a.fch, BT * 4 * C);
      matmulForward(a.fcproj, a.fchGelu, p(n.fcprojw), p(n.fcprojb), BT, 4 * C, C);
      const next = f(BT * C);
      residualForward(next, a.residual2, a.fcproj, BT * C);
      blocks.push(a);
      residual = next;
    }
    const lnf = f(BT * C);
    const lnfMean = f(BT);
    const lnfRstd = f(BT);
    layernormForward(lnf, lnfMean, lnfRstd, residual, p(LNF_WEIGHT), p(LNF_BIAS), BT, C);
    // Tied output head: logits (BT, V) = lnf (BT, C) @ wte^T, wte being (V, C).
    const logits = f(BT * V);
    gemm(logits, lnf, p(WTE), null, { M: BT, N: V, K: C, transB: true });

    let loss = Number.NaN;
    const losses = targets ? f(BT) : f(0);
    if (targets) {
      crossEntropyForwardBackward(losses, null, logits, targets, BT, V, 1 / BT);
      let sum = 0;
      for (const x of losses) sum += x;
      loss = sum / BT;
    }
    return {
      loss,
      logits,
      losses,
      saved: { B, T, inputs, targets, blocks, residualOut: residual, lnf, lnfMean, lnfRstd },
    };
  }

  /** Gradients of the mean loss for every parameter, as a flat buffer in the same layout. */
  backward(fwd: CpuForward): Floats {
    const { vocabSize: V, dModel: C, nLayer: L, nHead: NH } = this.config;
    const { B, T, inputs, targets, blocks } = fwd.saved;
    if (!targets) throw new Error('backward needs a forward pass that was given targets');
    const BT = B * T;
    const grads = this.alloc(this.layout.totalFloats);
    const p = (name: string) => this.tensor(this.params, name);
    const g = (name: string) => this.tensor(grads, name);
    const f = (n: number) => this.alloc(n);

    const dlogits = f(BT * V);
    crossEntropyForwardBackward(f(BT), dlogits, fwd.logits, targets, BT, V, 1 / BT);
    // logits = lnf @ wte^T: dlnf = dlogits @ wte, dwte += dlogits^T @ lnf
    const dlnf = f(BT * C);
    gemm(dlnf, dlogits, p(WTE), null, { M: BT, N: C, K: V });
    gemm(g(WTE), dlogits, fwd.saved.lnf, null, { M: V, N: C, K: BT, transA: true, accumulate: true });

    let dresidual = f(BT * C);
    const { residualOut, lnfMean, lnfRstd } = fwd.saved;
    layernormBackward(
      dresidual,
      g(LNF_WEIGHT),
      g(LNF_BIAS),
      dlnf,
      residualOut,
      p(LNF_WEIGHT),
      lnfMean,
      lnfRstd,
      BT,
      C,
    );

    for (let l = L - 1; l >= 0; l--) {
      const n = blockNames(l);
      const a = blocks[l] as BlockActs;
      // residual3 = residual2 + fcproj: dresidual flows to both unchanged.
      const dfchGelu = f(BT * 4 * C);
      matmulBackward(dfchGelu, g(n.fcprojw), g(n.fcprojb), dresidual, a.fchGelu, p(n.fcprojw), BT, 4 * C, C);
      const dfch = f(BT * 4 * C);
      geluBackward(dfch, a.fch, dfchGelu, BT * 4 * C);
      const dln2 = f(BT * C);
      matmulBackward(dln2, g(n.fcw), g(n.fcb), dfch, a.ln2, p(n.fcw), BT, C, 4 * C);
      const dresidual2 = copyOf(dresidual);
      layernormBackward(
        dresidual2,
        g(n.ln2w),
        g(n.ln2b),
        dln2,
        a.residual2,
        p(n.ln2w),
        a.ln2Mean,
        a.ln2Rstd,
        BT,
        C,
      );
      // residual2 = residualIn + attproj
      const datty = f(BT * C);
      matmulBackward(datty, g(n.attprojw), g(n.attprojb), dresidual2, a.atty, p(n.attprojw), BT, C, C);
      const dqkv = f(BT * 3 * C);
      attentionBackward(dqkv, datty, a.qkv, a.atty, a.lse, B, T, C, NH);
      const dln1 = f(BT * C);
      matmulBackward(dln1, g(n.qkvw), g(n.qkvb), dqkv, a.ln1, p(n.qkvw), BT, C, 3 * C);
      const dresidualIn = copyOf(dresidual2);
      layernormBackward(
        dresidualIn,
        g(n.ln1w),
        g(n.ln1b),
        dln1,
        a.residualIn,
        p(n.ln1w),
        a.ln1Mean,
        a.ln1Rstd,
        BT,
        C,
      );
      dresidual = dresidualIn;
    }
    encoderBackward(g(WTE), g(WPE), dresidual, inputs, B, T, C);
    return grads;
  }
}

function copyOf(a: Floats): Floats {
  return a.slice();
}
