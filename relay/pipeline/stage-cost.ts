// What a candidate stage costs: its training FLOPs per token (protocol/model-flops.ts, the convention
// credits use) and the bytes a volunteer needs to hold it. The planner asks for thousands of
// candidate layer ranges, so the costs come from prefix sums built once per model instead of a
// stageLayout per candidate; test/unit/relay/pipeline/stage-cost.test.ts checks that the
// parameter counts agree with stageLayout's.
//
// The byte count mirrors what kernels/pipeline/gpu-stage.ts allocates, so a plan that fits here
// fits there: per owned parameter the state bytes (weights, gradients and AdamW state), per
// parameter of the tied wte copy the copy bytes, per microbatch in flight one activation slot
// (stage-slot.ts), and once per stage the backward scratch (activations.ts's GradientScratch).
// Padding floats count: the GPU allocates them.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../protocol/model-flops.ts';
import { activationWords, FLOAT_BYTES } from '../../protocol/model-memory.ts';
import { blockNames, LNF_BIAS, LNF_WEIGHT, paramLayout, WPE, WTE } from '../../protocol/param-layout.ts';
import type { ResolvedOptions } from './plan-input.ts';

export interface StageCost {
  readonly nLayer: number;
  /** Tokens in one microbatch, B·T. */
  readonly tokensPerMicrobatch: number;
  /** Training FLOPs per token of the whole model. */
  readonly modelFlopsPerToken: number;
  /** Bytes of one boundary activation, or of its gradient, per microbatch (fp32, uncompressed). */
  readonly boundaryBytes: number;
  /** Training FLOPs per token of layers [a, b), the head's included on the last stage. */
  flopsPerToken(a: number, b: number, isLast: boolean): number;
  /** Parameter floats stage s of S holds over [a, b), padding included: owned, and the tied wte copy. */
  paramFloats(s: number, S: number, a: number, b: number): { readonly owned: number; readonly copy: number };
  /** Bytes a volunteer needs to hold stage s of S when it covers layers [a, b). */
  memoryBytes(s: number, S: number, a: number, b: number): number;
  /** Microbatches stage s of S holds in flight under 1F1B: S − s, capped by M. */
  slots(s: number, S: number): number;
}

export function stageCost(model: GptConfig, options: ResolvedOptions): StageCost {
  const { dModel: C, nLayer: L } = model;
  const { B, T } = options;
  const BT = B * T;
  const global = paramLayout(model);
  // A tensor's floats with its alignment padding: up to the next tensor's offset.
  const aligned = new Map<string, number>();
  global.tensors.forEach((t, i) => {
    aligned.set(t.name, (global.tensors[i + 1]?.offset ?? global.totalFloats) - t.offset);
  });
  const floatsOf = (name: string) => aligned.get(name) as number;
  const layerPrefix = new Float64Array(L + 1);
  for (let l = 0; l < L; l++) {
    const floats = Object.values(blockNames(l)).reduce((sum, name) => sum + floatsOf(name), 0);
    layerPrefix[l + 1] = (layerPrefix[l] as number) + floats;
  }
  const embeddingFloats = floatsOf(WTE) + floatsOf(WPE);
  const finalNormFloats = floatsOf(LNF_WEIGHT) + floatsOf(LNF_BIAS);
  const wteFloats = floatsOf(WTE);

  // One activation slot and the backward scratch, in 4-byte words (stage-slot.ts).
  const words = activationWords(model, B, T);
  const microbatches = options.microbatches ?? Number.POSITIVE_INFINITY;

  // protocol/model-flops.ts's count is linear in the layers plus the head's term; read both off it once,
  // since the search asks for millions of ranges (the cost test checks every range against it).
  const oneLayer = (isLast: boolean) =>
    stageFlopsPerToken(model, { layers: { start: 0, end: 1 }, isLast }, T).training;
  const layerFlops = oneLayer(false);
  const headFlops = oneLayer(true) - layerFlops;
  const slots = (s: number, S: number) => Math.min(S - s, microbatches);
  const paramFloats = (s: number, S: number, a: number, b: number) => {
    const isFirst = s === 0;
    const isLast = s === S - 1;
    const layers = (layerPrefix[b] as number) - (layerPrefix[a] as number);
    return {
      owned: layers + (isFirst ? embeddingFloats : 0) + (isLast ? finalNormFloats : 0),
      copy: isLast && !isFirst ? wteFloats : 0,
    };
  };
  return {
    nLayer: L,
    tokensPerMicrobatch: BT,
    modelFlopsPerToken: stageFlopsPerToken(model, { layers: { start: 0, end: L }, isLast: true }, T).training,
    boundaryBytes: BT * C * FLOAT_BYTES,
    flopsPerToken: (a, b, isLast) => (b - a) * layerFlops + (isLast ? headFlops : 0),
    slots,
    paramFloats,
    memoryBytes(s, S, a, b) {
      const { owned, copy } = paramFloats(s, S, a, b);
      const slotWords =
        words.input + (s === 0 ? words.encoder : 0) + (b - a) * words.block + (s === S - 1 ? words.head : 0);
      return (
        owned * options.stateBytesPerParam +
        copy * options.copyBytesPerParam +
        FLOAT_BYTES * (slots(s, S) * slotWords + words.scratch)
      );
    },
  };
}
