// SparseLoCo's compressor (Templar, 2025), measured in the swarm benchmark before it earns a GPU
// kernel: top-k *per chunk* of the accumulator (every chunk of `chunkSize` parameters keeps its
// own share, so no tensor is starved by another's larger scale, as a global top-k starves
// them), blockwise quantization of the kept values, and error feedback with a decay β:
//   acc = Δ + β · residual;  sent = C(acc);  residual = acc − sent
// It runs on the CPU (the inner steps stay on the GPU; θ_local is read back once a round) with
// the reference quantizer, so its frames are the run's ordinary tensor frames.
import type { CompressedTensor } from '../../../kernels/compress/compressed-tensor.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { accumulateReference, largerFirst, quantizeReference } from '../../../kernels/reference/compress.ts';
import type { RoundCompressor } from '../../../kernels/round/round-compressor.ts';
import { type CompressionSettings, topKCount } from '../../../protocol/compression-settings.ts';
import { packCodes } from '../../../protocol/quantize.ts';
import { KEEP_ALL } from '../../../protocol/random-k.ts';

export interface ChunkedTopK {
  /** Parameters per chunk; each keeps floor(topK · chunkSize) of its largest |acc|. */
  readonly chunkSize: number;
  /** β: how much of the unsent residual carries into the next round (1: all of it). */
  readonly errorDecay: number;
}

export class ChunkedTopKCompressor implements RoundCompressor {
  private start = new Float32Array(0);
  private residual: Float32Array;
  private pending: { indices: Uint32Array; acc: Float32Array } | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly n: number,
    private readonly settings: CompressionSettings,
    private readonly chunking: ChunkedTopK,
  ) {
    if (settings.randomK !== 1) throw new RangeError('chunked top-k runs without random-k');
    this.residual = new Float32Array(n);
  }

  setStart(start: Float32Array): void {
    this.start = start.slice();
  }

  async compress(current: GPUBuffer, seed: number, roundingSeed: number): Promise<CompressedTensor> {
    const local = await this.ctx.readFloats(current, 0, this.n);
    const beta = Math.fround(this.chunking.errorDecay);
    const carried = this.residual.map((r) => Math.fround(beta * r));
    const acc = accumulateReference(this.start, local, carried);
    const indices = chunkedTopK(acc, this.settings.topK, this.chunking.chunkSize);
    const values = Float32Array.from(indices, (i) => acc[i] as number);
    const { bits, blockSize } = this.settings;
    const quantized =
      bits === 32
        ? { scales: new Float32Array(0), codes: new Uint32Array(values.buffer) }
        : quantizeReference(values, bits, blockSize, roundingSeed);
    this.pending = { indices, acc };
    return {
      seed: seed >>> 0,
      keepMax: KEEP_ALL,
      paramOffset: 0,
      paramCount: this.n,
      candidateCount: this.n,
      indices,
      bits,
      blockSize,
      scales: quantized.scales,
      words: packCodes(quantized.codes, bits, blockSize),
    };
  }

  applyErrorFeedback(sent: Float32Array): void {
    const pending = this.pending;
    if (!pending) throw new Error('applyErrorFeedback needs a compress() first');
    this.residual = pending.acc;
    for (let j = 0; j < pending.indices.length; j++) {
      const i = pending.indices[j] as number;
      this.residual[i] = Math.fround((pending.acc[i] as number) - (sent[j] as number));
    }
    this.pending = null;
  }
}

/**
 * Ascending indices of the largest |acc| of every chunk (ties: lower index), topKCount(n) in
 * all (the count every round frame of the run must carry): each chunk keeps floor(topK · its
 * length), and the few left over go one each to the first chunks.
 */
export function chunkedTopK(acc: Float32Array, topK: number, chunkSize: number): Uint32Array {
  const chunks = Math.ceil(acc.length / chunkSize);
  const share = (c: number) => Math.floor(topK * (Math.min(acc.length, (c + 1) * chunkSize) - c * chunkSize));
  let leftOver = topKCount(acc.length, topK);
  for (let c = 0; c < chunks; c++) leftOver -= share(c);
  const kept: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const start = c * chunkSize;
    const end = Math.min(acc.length, start + chunkSize);
    const k = share(c) + (c < leftOver ? 1 : 0);
    if (k === 0) continue;
    const order = Array.from({ length: end - start }, (_, j) => start + j);
    order.sort(largerFirst(acc));
    kept.push(...order.slice(0, k).sort((a, b) => a - b));
  }
  return Uint32Array.from(kept);
}
