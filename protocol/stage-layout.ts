// Which layers, and which parts of the flat parameter buffer (protocol/param-layout.ts), one
// pipeline stage holds. Stages are contiguous layer ranges (GPipe, Huang et al. 2019); the first
// also holds the token and position embeddings, the last the final LayerNorm and the head.
//
// The head is tied to the token embedding (logits = lnf @ wteᵀ, as in GPT-2), so two stages need
// wte. The first stage OWNS it: its gradient and AdamW state live there. The last stage holds a
// read-only COPY for the head, sends the copy's gradient back to be summed into the owner's
// before the step, and receives the updated weights after it. Megatron-LM shares its word
// embedding between the first and last stage the same way (Narayanan et al. 2021, "Efficient
// large-scale language model training on GPU clusters", section 2.2's embedding all-reduce);
// one owner, rather than two replicas each running AdamW, keeps the copies bit-identical even
// on volunteers whose GPUs round sqrt and division differently. Untying instead would change
// the model, so that a pipeline run could not load or save the same checkpoints.
//
// The global layout puts every decayed tensor first and, within that, orders tensors by layer,
// so a stage's tensors form a few contiguous ranges of the global buffer (decayed weights,
// then biases and LayerNorms). The stage's local buffer is those ranges concatenated in global
// order: decayed tensors still come first (AdamW decays one prefix), every tensor still starts
// on a 256-byte boundary (ranges start on one and span whole aligned tensors), and the tied
// copy, wte being the first tensor of the global buffer, is the local buffer's prefix.
import type { GptConfig } from './gpt-config.ts';
import {
  blockNames,
  LNF_BIAS,
  LNF_WEIGHT,
  type ParamLayout,
  paramLayout,
  type TensorSpec,
  WPE,
  WTE,
} from './param-layout.ts';

/** Layers [start, end) of the model, by global index. */
export interface LayerRange {
  readonly start: number;
  readonly end: number;
}

/** A run of the global buffer held by a stage: global [globalStart, globalStart + length). */
export interface ParamRange {
  readonly globalStart: number;
  readonly localStart: number;
  /** Floats, padding included. */
  readonly length: number;
  /** True for the tied head's copy of wte, which the stage reads but does not update. */
  readonly copy: boolean;
}

/** A tensor as the stage holds it: `offset` is local, `globalOffset` is in paramLayout's buffer. */
export interface StageTensor extends TensorSpec {
  readonly globalOffset: number;
  readonly copy: boolean;
}

export interface StageLayout {
  readonly stage: number;
  readonly stages: number;
  readonly layers: LayerRange;
  readonly isFirst: boolean;
  readonly isLast: boolean;
  /** Holds a copy of wte for the tied head (the last stage of two or more). */
  readonly tiedCopy: boolean;
  readonly global: ParamLayout;
  readonly tensors: readonly StageTensor[];
  readonly ranges: readonly ParamRange[];
  /** Floats in the local buffer, copy and padding included. */
  readonly totalFloats: number;
  /** Local [0, ownedStart) is the tied copy (0 when there is none); the stage updates the rest. */
  readonly ownedStart: number;
  /** Local [ownedStart, decayEnd) is weight-decayed. */
  readonly decayEnd: number;
  /** Real parameters the stage owns (copy and padding excluded). */
  readonly paramCount: number;
  get(name: string): StageTensor;
  /** The stage's local buffer (copy included) cut from a global one. */
  gather(global: Float32Array): Float32Array;
  /** Writes the owned part of a local buffer into a global one (the copy is not the stage's). */
  scatter(local: Float32Array, global: Float32Array): void;
}

/**
 * Splits nLayer layers into S contiguous ranges whose sizes differ by at most one. The extra
 * layers go to the interior stages first, then to the first: the last stage already carries the
 * head (2·V·C FLOPs per token, several layers' worth at GPT-2's vocabulary), and under 1F1B the
 * first stage keeps the most microbatches' activations (S of them; see stage-order.ts).
 */
export function splitLayers(nLayer: number, S: number): LayerRange[] {
  if (!(Number.isInteger(S) && S >= 1)) throw new RangeError(`stages must be a positive integer, got ${S}`);
  if (!(Number.isInteger(nLayer) && nLayer >= S))
    throw new RangeError(`${nLayer} layers cannot fill ${S} stages with one layer each`);
  const sizes = new Array<number>(S).fill(Math.floor(nLayer / S));
  const preference = [...Array.from({ length: Math.max(0, S - 2) }, (_, i) => i + 1), 0, S - 1];
  for (let i = 0; i < nLayer % S; i++) {
    const s = preference[i] as number;
    sizes[s] = (sizes[s] as number) + 1;
  }
  const ranges: LayerRange[] = [];
  let start = 0;
  for (const size of sizes) {
    ranges.push({ start, end: start + size });
    start += size;
  }
  return ranges;
}

/** Checks that `ranges` cover [0, nLayer) in order, each non-empty. */
export function validateSplit(nLayer: number, ranges: readonly LayerRange[]): void {
  let next = 0;
  for (const [s, r] of ranges.entries()) {
    if (r.start !== next || !(r.end > r.start))
      throw new RangeError(`stage ${s}: layers [${r.start}, ${r.end}) do not continue from ${next}`);
    next = r.end;
  }
  if (next !== nLayer || ranges.length === 0)
    throw new RangeError(`the stages cover ${next} of ${nLayer} layers`);
}

/** Stage `stage`'s share of the model split at `split` (from splitLayers or chosen by hand). */
export function stageLayout(config: GptConfig, split: readonly LayerRange[], stage: number): StageLayout {
  validateSplit(config.nLayer, split);
  const layers = split[stage];
  if (!layers) throw new RangeError(`stage ${stage} is not in [0, ${split.length})`);
  const global = paramLayout(config);
  const stages = split.length;
  const isFirst = stage === 0;
  const isLast = stage === stages - 1;
  const tiedCopy = isLast && !isFirst;

  const held = new Map<string, boolean>(); // name -> copy
  if (isFirst) held.set(WTE, false).set(WPE, false);
  if (tiedCopy) held.set(WTE, true);
  for (let l = layers.start; l < layers.end; l++)
    for (const name of Object.values(blockNames(l))) held.set(name, false);
  if (isLast) held.set(LNF_WEIGHT, false).set(LNF_BIAS, false);

  const tensors: StageTensor[] = [];
  const ranges: ParamRange[] = [];
  let local = 0;
  let previous = -2;
  let paramCount = 0;
  let decayEnd = -1;
  global.tensors.forEach((spec, i) => {
    const copy = held.get(spec.name);
    if (copy === undefined) return;
    const alignedEnd = global.tensors[i + 1]?.offset ?? global.totalFloats;
    const length = alignedEnd - spec.offset;
    const last = ranges.at(-1);
    if (last && previous === i - 1 && last.copy === copy) {
      ranges[ranges.length - 1] = { ...last, length: last.length + length };
    } else {
      ranges.push({ globalStart: spec.offset, localStart: local, length, copy });
    }
    if (!spec.decay && decayEnd < 0) decayEnd = local;
    tensors.push({ ...spec, offset: local, globalOffset: spec.offset, copy });
    if (!copy) paramCount += spec.size;
    local += length;
    previous = i;
  });
  const ownedStart = ranges
    .filter((r) => r.copy)
    .reduce((end, r) => Math.max(end, r.localStart + r.length), 0);
  if (ranges.some((r) => r.copy && r.localStart >= ownedStart))
    throw new Error('stage layout: the tied copy must be the local buffer prefix');
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const totalFloats = local;
  return {
    stage,
    stages,
    layers,
    isFirst,
    isLast,
    tiedCopy,
    global,
    tensors,
    ranges: ranges,
    totalFloats,
    ownedStart,
    decayEnd: decayEnd < 0 ? totalFloats : decayEnd,
    paramCount,
    get(name) {
      const spec = byName.get(name);
      if (!spec) throw new RangeError(`stage ${stage} holds no tensor named ${name}`);
      return spec;
    },
    gather(flat) {
      if (flat.length !== global.totalFloats)
        throw new RangeError(`global buffer has ${flat.length} floats, the layout ${global.totalFloats}`);
      const out = new Float32Array(totalFloats);
      for (const r of ranges) out.set(flat.subarray(r.globalStart, r.globalStart + r.length), r.localStart);
      return out;
    },
    scatter(part, flat) {
      if (part.length !== totalFloats || flat.length !== global.totalFloats)
        throw new RangeError(`scatter: ${part.length} local / ${flat.length} global floats do not fit`);
      for (const r of ranges)
        if (!r.copy) flat.set(part.subarray(r.localStart, r.localStart + r.length), r.globalStart);
    },
  };
}
