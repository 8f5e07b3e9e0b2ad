// A round's aggregate as the relay sends it back to the swarm (docs/ARCHITECTURE.md, "Everyone
// trains"). The robust aggregate of n one-bit frames is dense over the round's random-k
// candidates: as fp32 it would be ~30 times one frame, and every volunteer must receive it. So
// the relay compresses it once more (DoubleSqueeze, Tang et al. 2019; CocktailSGD compresses
// both directions too): the same candidates (the round's seed), every candidate sent, at the
// run's `aggregateBits`, with the relay's own error feedback carrying what a round's aggregate
// frame did not say into the next. The relay computes θ_{r+1} from the decoded frame, exactly
// as every peer does, so what is committed is what every peer can reproduce from these bytes.
//
// Rounding is to the nearest level, not stochastic: only the relay encodes, and its residual
// keeps the error, so no noise stream is needed.
import type { CompressionSettings } from './compression-settings.ts';
import type { SparseValues } from './expand-frame.ts';
import type { DecodeResult } from './frame-errors.ts';
import { maxFrameBytesInRunFormat } from './frame-format.ts';
import { blockCount, levelsFor, packCodes, type QuantBits } from './quantize.ts';
import { keepMaxFor, randomKCandidates } from './random-k.ts';
import { decodeRoundValues } from './round-frame-values.ts';
import { encodeTensorFrame } from './tensor-frame.ts';

export interface AggregateSpec {
  readonly round: number;
  readonly seed: number;
  /** Floats of the flat parameter buffer, padding included. */
  readonly totalFloats: number;
  /** The run's compression: its random-k fraction and block size are reused. */
  readonly compression: CompressionSettings;
  /** Bits per value of the aggregate frame; 32 sends it exactly. */
  readonly aggregateBits: QuantBits;
}

/** The most bytes an aggregate frame of a run takes (frame-format.ts's exact bound). */
export function maxAggregateFrameBytes(
  totalFloats: number,
  round: { readonly compression: CompressionSettings; readonly aggregateBits: QuantBits },
): number {
  return maxFrameBytesInRunFormat(totalFloats, { ...round.compression, topK: 1, bits: round.aggregateBits });
}

/** The settings an aggregate frame is written in: every candidate, at aggregateBits. */
export function aggregateCompression(spec: AggregateSpec): CompressionSettings {
  return { ...spec.compression, topK: 1, bits: spec.aggregateBits };
}

/**
 * The aggregate frame of `update` (+ the carried `residual`), and the residual it leaves: what
 * the frame did not say, at every parameter (non-candidates keep theirs for a later round).
 * Neither input is changed.
 */
export function encodeAggregate(
  update: Float32Array,
  residual: Float32Array | null,
  spec: AggregateSpec,
): { bytes: Uint8Array; residual: Float32Array } {
  const settings = aggregateCompression(spec);
  const keepMax = keepMaxFor(settings.randomK);
  const carried = new Float32Array(update.length);
  for (let i = 0; i < update.length; i++)
    carried[i] = Math.fround((update[i] as number) + (residual ? (residual[i] as number) : 0));
  const indices = randomKCandidates(spec.seed, keepMax, 0, update.length);
  const values = Float32Array.from(indices, (i) => carried[i] as number);
  const { scales, codes, sent } = quantizeNearest(values, settings.bits, settings.blockSize);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    carried[i] = Math.fround((carried[i] as number) - (sent[j] as number));
  }
  const bytes = encodeTensorFrame({
    kind: 'round-aggregate',
    round: spec.round,
    seed: spec.seed,
    keepMax,
    paramOffset: 0,
    paramCount: update.length,
    candidateCount: indices.length,
    bits: settings.bits,
    blockSize: settings.blockSize,
    ordinals: null,
    valueCount: indices.length,
    scales,
    words:
      settings.bits === 32
        ? new Uint32Array(values.buffer.slice(0))
        : packCodes(codes, settings.bits, settings.blockSize),
  });
  return { bytes, residual: carried };
}

/** The aggregate's sparse values, or why these bytes are not this round's aggregate; never throws. */
export function decodeAggregate(bytes: Uint8Array, spec: AggregateSpec): DecodeResult<SparseValues> {
  return decodeRoundValues(bytes, 'round-aggregate', spec, aggregateCompression(spec));
}

/**
 * Blockwise codes to the nearest level, with the scales quantize.ts decodes: max |v| from 2
 * bits up, mean |v| at 1 bit (the sign code with the least error). A zero-scale block keeps
 * zero codes, as the frame's one encoding requires.
 */
function quantizeNearest(
  values: Float32Array,
  bits: QuantBits,
  blockSize: number,
): { scales: Float32Array; codes: Uint32Array; sent: Float32Array } {
  if (bits === 32) return { scales: new Float32Array(0), codes: new Uint32Array(0), sent: values };
  const scales = new Float32Array(blockCount(values.length, blockSize));
  const codes = new Uint32Array(values.length);
  const sent = new Float32Array(values.length);
  const levels = levelsFor(bits);
  for (let b = 0; b < scales.length; b++) {
    const start = b * blockSize;
    const end = Math.min(values.length, start + blockSize);
    let scale = 0;
    for (let j = start; j < end; j++) {
      const magnitude = Math.abs(values[j] as number);
      scale = bits === 1 ? scale + magnitude : Math.max(scale, magnitude);
    }
    scale = Math.fround(bits === 1 ? scale / (end - start) : scale);
    scales[b] = scale;
    if (scale === 0) continue;
    const step = Math.fround(Math.fround(2 * scale) / levels);
    for (let j = start; j < end; j++) {
      const q = Math.floor(Math.fround(Math.fround((values[j] as number) + scale) / step) + 0.5);
      const code = Math.min(levels, Math.max(0, q));
      codes[j] = code;
      sent[j] = Math.fround(Math.fround(code * step) - scale);
    }
  }
  return { scales, codes, sent };
}
