// SparseLoCo's top-k per chunk (compress_chunk_select.wgsl) over a few rounds of a few fixed
// cases, as CRC-32s of what a peer sends and of what it keeps: the kept indices, the wire
// frames (kernels/round/round-peer.ts's encodeTensorFrame(frameOf(payload))), and the
// error-feedback residual left after the last round, decayed by β. Computed once from the CPU
// reference (kernels/reference/compress.ts, residualAfter); the Node and the browser tests hold
// the GpuCompressor to these numbers, so a frame and a residual are the same bits whoever
// computes them, in Node on Dawn or in Chromium.
//
// The inputs are made with exact arithmetic only (integers from the seeded generator, scaled by
// powers of two), so no engine's Math.log or Math.cos can make them differ.
import type { CompressedTensor } from '../../kernels/compress/compressed-tensor.ts';
import { GpuCompressor } from '../../kernels/compress/gpu-compressor.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { accumulateReference, compressReference } from '../../kernels/reference/compress.ts';
import { residualAfter } from '../../kernels/reference/inner-loop.ts';
import { frameOf, sentValues } from '../../kernels/round/payload.ts';
import { type CompressionSettings, errorDecayOf } from '../../protocol/compression-settings.ts';
import { crc32 } from '../../protocol/crc32.ts';
import { createRng, type Rng } from '../../protocol/rng.ts';
import { encodeTensorFrame } from '../../protocol/tensor-frame.ts';

export interface ChunkedTopKDigest {
  /** Values kept over every round. */
  readonly kept: number;
  /** CRC-32 of every round's kept indices (u32 little-endian), round after round. */
  readonly indexCrc: number;
  /** Bytes of every round's frame together, and their CRC-32. */
  readonly frameBytes: number;
  readonly frameCrc: number;
  /** CRC-32 of the residual (f32 little-endian) after the last round's error feedback. */
  readonly residualCrc: number;
}

export interface ChunkedTopKCase {
  readonly name: string;
  readonly n: number;
  readonly settings: CompressionSettings;
  /** `tied`: few distinct magnitudes, so ties at every chunk's threshold. */
  readonly values: 'spread' | 'tied';
  /** Rounds in a row; from the second on, acc carries the decayed residual. */
  readonly rounds: number;
  readonly digest: ChunkedTopKDigest;
}

const chunked = (
  topK: number,
  chunkSize: number,
  blockSize: number,
  errorDecay?: number,
): CompressionSettings => ({
  randomK: 1,
  topK,
  bits: 2,
  blockSize,
  chunkSize,
  ...(errorDecay === undefined ? {} : { errorDecay }),
});

export const CHUNKED_TOP_K_GOLDEN: readonly ChunkedTopKCase[] = [
  {
    name: 'chunks of 4096, 3%, a partial last chunk, β 0.95',
    n: 10_000,
    settings: chunked(0.03, 4096, 64, 0.95),
    values: 'spread',
    rounds: 3,
    digest: {
      kept: 900,
      indexCrc: 0xe909eb52,
      frameBytes: 1356,
      frameCrc: 0xa0b3dab9,
      residualCrc: 0xbc25df5c,
    },
  },
  {
    name: 'chunks of 256, 2%, ties everywhere, β 0.95',
    n: 5000,
    settings: chunked(0.02, 256, 32, 0.95),
    values: 'tied',
    rounds: 3,
    digest: {
      kept: 300,
      indexCrc: 0x4287c592,
      frameBytes: 612,
      frameCrc: 0x3574f09a,
      residualCrc: 0x217ce24b,
    },
  },
  {
    name: 'chunks of 256, 1%, the leftover values to the first chunks, β 0.95',
    n: 66_536,
    settings: chunked(0.01, 256, 128, 0.95),
    values: 'spread',
    rounds: 2,
    digest: {
      kept: 1330,
      indexCrc: 0x35c92d0e,
      frameBytes: 2260,
      frameCrc: 0x52ca0d27,
      residualCrc: 0xe88c2ff4,
    },
  },
  {
    name: 'chunks of 4096, 1%, feedback undecayed',
    n: 3 * 4096 + 100,
    settings: chunked(0.01, 4096, 64),
    values: 'spread',
    rounds: 2,
    digest: {
      kept: 248,
      indexCrc: 0x5f8a2228,
      frameBytes: 440,
      frameCrc: 0x4321fbd1,
      residualCrc: 0x31836390,
    },
  },
];

interface RoundInput {
  /** Round number, the frame's random-k seed and this peer's rounding seed. */
  readonly round: number;
  readonly seed: number;
  readonly roundingSeed: number;
  /** θ_start and θ_local, n floats each. */
  readonly start: Float32Array;
  readonly local: Float32Array;
}

/** Every round's inputs, the same on the CPU and the GPU. */
function roundInputs({ n, values, rounds }: ChunkedTopKCase): RoundInput[] {
  const rng = createRng(n * 7919 + rounds);
  const make = values === 'tied' ? tiedValues : spreadValues;
  return Array.from({ length: rounds }, (_, round) => ({
    round,
    seed: 1000 + round,
    roundingSeed: 77 * round + 5,
    start: make(rng, n),
    local: make(rng, n),
  }));
}

/** Values in ±1 in steps of 2^-16, each chunk-sized stretch of 256 at its own power-of-two scale. */
function spreadValues(rng: Rng, n: number): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => ((rng.nextBelow(2 ** 17) - 2 ** 16) / 2 ** 16) * 2 ** -(Math.floor(i / 256) % 8),
  );
}

/** Magnitudes 0, 1/4, 1/2, 1 and 2 with either sign. */
function tiedValues(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const sign = rng.nextBelow(2) ? -1 : 1;
    return rng.nextBelow(5) === 0 ? 0 : sign * 2 ** (rng.nextBelow(4) - 2);
  });
}

/** Folds the rounds' payloads and the final residual into a ChunkedTopKDigest. */
class DigestBuilder {
  private kept = 0;
  private indexCrc = 0;
  private frameBytes = 0;
  private frameCrc = 0;

  add(payload: CompressedTensor, round: number): void {
    const frame = encodeTensorFrame(frameOf(payload, round));
    this.kept += payload.indices.length;
    this.indexCrc = crc32(littleEndian(payload.indices), this.indexCrc);
    this.frameBytes += frame.length;
    this.frameCrc = crc32(frame, this.frameCrc);
  }

  finish(residual: Float32Array): ChunkedTopKDigest {
    const { kept, indexCrc, frameBytes, frameCrc } = this;
    return { kept, indexCrc, frameBytes, frameCrc, residualCrc: crc32(littleEndian(residual)) };
  }
}

function littleEndian(words: Uint32Array | Float32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  if (words instanceof Float32Array) for (const [j, w] of words.entries()) view.setFloat32(j * 4, w, true);
  else for (const [j, w] of words.entries()) view.setUint32(j * 4, w, true);
  return bytes;
}

/** The rounds as the CPU reference runs them (what the relay's redo of a round computes). */
export function cpuDigest(golden: ChunkedTopKCase): ChunkedTopKDigest {
  const { n, settings } = golden;
  const digest = new DigestBuilder();
  let residual: Float32Array = new Float32Array(n);
  for (const { round, seed, roundingSeed, start, local } of roundInputs(golden)) {
    const acc = accumulateReference(start, local, residual);
    const payload = compressReference(acc, settings, seed, roundingSeed);
    residual = residualAfter(acc, payload, errorDecayOf(settings));
    digest.add(payload, round);
  }
  return digest.finish(residual);
}

/** The rounds as a volunteer runs them on the GPU (kernels/round/round-peer.ts, step 4). */
export async function gpuDigest(ctx: GpuContext, golden: ChunkedTopKCase): Promise<ChunkedTopKDigest> {
  const { n, settings } = golden;
  const compressor = new GpuCompressor(ctx, n, settings, 'chunked-topk-golden');
  const current = ctx.createStorage('chunked-topk-golden:current', n * 4);
  try {
    const digest = new DigestBuilder();
    for (const { round, seed, roundingSeed, start, local } of roundInputs(golden)) {
      compressor.setStart(start);
      ctx.write(current, local);
      const payload = await compressor.compress(current, seed, roundingSeed);
      compressor.applyErrorFeedback(sentValues(payload));
      digest.add(payload, round);
    }
    return digest.finish(await compressor.readResidual());
  } finally {
    current.destroy();
    compressor.destroy();
  }
}
