// A peer's pseudo-gradient compressed where it lives, on the GPU, so that only the payload
// crosses back to the CPU (CocktailSGD's pipeline; docs/ARCHITECTURE.md, round step 4):
//   acc = θ_start − θ_local + residual                      compress_accumulate
//   random-k: candidates from the round's seed             (same kernel: key 0 = dropped)
//   top-k: radix select of the k-th largest |acc|, 4 x 8 bits, no sort
//                                                          compress_histogram / _select_bin
//   compaction of the kept indices in index order          compress_block_counts / _scan / _compact
//   or, with a chunkSize, both per chunk in one dispatch   compress_chunk_select
//   blockwise quantization with stochastic rounding        compress_quantize
//   error feedback: residual = β · (acc − decoded payload) compress_error_feedback
// All of it is one submission; the kept indices, scales and packed words are read back.

import {
  type CompressionSettings,
  chunkTopKOffsets,
  errorDecayOf,
  topKCount,
  validateCompression,
} from '../../protocol/compression-settings.ts';
import { blockCount, packedWordCount } from '../../protocol/quantize.ts';
import { countCandidates, keepMaxFor } from '../../protocol/random-k.ts';
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { type CompressedTensor, QUANTIZE_WORKGROUP } from './compressed-tensor.ts';
import { compressShader } from './shaders.ts';

export type { CompressedTensor };

/** What compress() reads back: a frame's worth (kernels/round/payload.ts makes the frame). */

/** Indices per compaction block: WORKGROUP x PER_THREAD of compress_compact.wgsl. */
const COMPACT_WORKGROUP = 256;
const COMPACT_PER_THREAD = 4;
const COMPACT_BLOCK = COMPACT_WORKGROUP * COMPACT_PER_THREAD;
const STREAM_WORKGROUP = 256;
/** Grid-stride kernels use at most this many workgroups, whatever n is. */
const MAX_STREAM_GROUPS = 1024;
const RADIX_SHIFTS = [24, 16, 8, 0] as const;
const PARAMS_WORDS = 7; // struct Params in compress_common.wgsl
/** Workgroups a dispatch may have along x (WebGPU's default limit): chunks of a chunked top-k. */
const MAX_GROUPS = 65_535;

export class GpuCompressor {
  /** Error-feedback residual (n floats): what earlier rounds did not send. Starts at zero. */
  readonly residual: GPUBuffer;
  private readonly keepMax: number;
  private readonly start: GPUBuffer;
  private readonly acc: GPUBuffer;
  private readonly keys: GPUBuffer;
  private readonly hist: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly blockAbove: GPUBuffer;
  private readonly blockTies: GPUBuffer;
  private readonly blockOut: GPUBuffer;
  private readonly blockTieStart: GPUBuffer;
  private readonly outIndex: GPUBuffer;
  private readonly outValue: GPUBuffer;
  private readonly words: GPUBuffer;
  private readonly scales: GPUBuffer;
  private readonly sent: GPUBuffer;
  private readonly params: GPUBuffer;
  /** chunkTopKOffsets when top-k is per chunk, else null. */
  private readonly chunkOffsets: GPUBuffer | null;
  private readonly chunks: number;
  private readonly owned: GPUBuffer[];
  private readonly blocks: number;
  private readonly streamGroups: number;
  /** Values kept by the last compress(), awaiting applyErrorFeedback. */
  private pendingK: number | null = null;
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly n: number,
    readonly settings: CompressionSettings,
    readonly label = 'compress',
  ) {
    validateCompression(settings);
    if (!(Number.isInteger(n) && n >= 1))
      throw new GpuError('ERR_SHAPE', `${label}: n must be >= 1, got ${n}`);
    this.keepMax = keepMaxFor(settings.randomK);
    this.blocks = Math.ceil(n / COMPACT_BLOCK);
    this.streamGroups = Math.min(MAX_STREAM_GROUPS, Math.ceil(n / STREAM_WORKGROUP));
    const floats = (name: string, count: number) => ctx.createStorage(`${label}:${name}`, count * 4);
    const { bits, blockSize } = settings;
    this.residual = floats('residual', n);
    this.start = floats('start', n);
    this.acc = floats('acc', n);
    this.keys = floats('keys', n);
    this.hist = floats('hist', 256);
    this.state = floats('state', 4);
    this.blockAbove = floats('block-above', this.blocks);
    this.blockTies = floats('block-ties', this.blocks);
    this.blockOut = floats('block-out', this.blocks);
    this.blockTieStart = floats('block-tie-start', this.blocks);
    this.outIndex = floats('kept-index', n);
    this.outValue = floats('kept-value', n);
    this.words = floats('words', packedWordCount(n, bits, blockSize));
    this.scales = floats('scales', bits === 32 ? 1 : blockCount(n, blockSize));
    this.sent = floats('sent', n);
    this.params = ctx.createUniform(`${label}:params`, new Array(PARAMS_WORDS).fill(0));
    const { chunkSize } = settings;
    if (chunkSize === undefined) {
      this.chunks = 0;
      this.chunkOffsets = null;
    } else {
      this.chunks = Math.ceil(n / chunkSize);
      if (this.chunks > MAX_GROUPS)
        throw new GpuError(
          'ERR_SHAPE',
          `${label}: ${this.chunks} chunks of ${chunkSize}; at most ${MAX_GROUPS}`,
        );
      this.chunkOffsets = floats('chunk-offsets', this.chunks + 1);
      ctx.write(this.chunkOffsets, chunkTopKOffsets(n, settings.topK, chunkSize));
    }
    this.owned = [
      this.residual,
      this.start,
      this.acc,
      this.keys,
      this.hist,
      this.state,
      this.blockAbove,
      this.blockTies,
      this.blockOut,
      this.blockTieStart,
      this.outIndex,
      this.outValue,
      this.words,
      this.scales,
      this.sent,
      this.params,
      ...(this.chunkOffsets ? [this.chunkOffsets] : []),
    ];
  }

  /** θ_start for this round: the global weights the inner steps began from. */
  setStart(start: Float32Array): void {
    this.assertAlive();
    if (start.length !== this.n)
      throw new RangeError(`${this.label}: start has ${start.length} floats, expected ${this.n}`);
    this.ctx.write(this.start, start);
  }

  /**
   * Compresses θ_start − current + residual with the round's `seed` (random-k) and this
   * peer's `roundingSeed` (stochastic rounding). `current` holds θ_local (n floats).
   */
  async compress(current: GPUBuffer, seed: number, roundingSeed: number): Promise<CompressedTensor> {
    this.assertAlive();
    const { ctx, n, settings, keepMax } = this;
    const { bits, blockSize } = settings;
    const candidateCount = countCandidates(seed >>> 0, keepMax, 0, n);
    const k = topKCount(candidateCount, settings.topK);
    const decay = new Uint32Array(Float32Array.of(errorDecayOf(settings)).buffer)[0] as number;
    ctx.write(this.params, Uint32Array.of(n, seed >>> 0, keepMax, k, this.blocks, roundingSeed >>> 0, decay));
    ctx.write(this.state, Uint32Array.of(0, k, 0, 0));
    ctx.run(this.selectAndQuantize(current, k), `${this.label}:compress`, [this.hist]);
    this.pendingK = k;
    const scaleCount = bits === 32 ? 0 : blockCount(k, blockSize);
    const wordCount = packedWordCount(k, bits, blockSize);
    const [indices, scales, words] = await Promise.all([
      this.readU32(this.outIndex, k),
      this.readU32(this.scales, scaleCount),
      this.readU32(this.words, wordCount),
    ]);
    return {
      seed: seed >>> 0,
      keepMax,
      paramOffset: 0,
      paramCount: n,
      candidateCount,
      indices,
      bits,
      blockSize,
      scales: new Float32Array(scales.buffer),
      words,
    };
  }

  /** residual ← acc − sent at the kept indices, acc elsewhere. `sent`: the decoded payload. */
  applyErrorFeedback(sent: Float32Array): void {
    this.assertAlive();
    const k = this.pendingK;
    if (k === null)
      throw new GpuError('ERR_STATE', `${this.label}: applyErrorFeedback needs a compress() first`);
    if (sent.length !== k) throw new RangeError(`${this.label}: ${sent.length} sent values for ${k} kept`);
    if (k > 0) this.ctx.write(this.sent, sent);
    const feedback = (scatter: boolean, groups: number) =>
      this.ctx.dispatch(
        `${this.label}:feedback${scatter ? ':scatter' : ''}`,
        compressShader('compress_error_feedback', {
          WORKGROUP_SIZE: STREAM_WORKGROUP,
          SCATTER: scatter ? 1 : 0,
        }),
        [this.residual, this.acc, this.outIndex, this.sent, this.params],
        [groups],
      );
    const dispatches = [feedback(false, this.streamGroups)];
    if (k > 0) dispatches.push(feedback(true, Math.min(MAX_STREAM_GROUPS, Math.ceil(k / STREAM_WORKGROUP))));
    this.ctx.run(dispatches, `${this.label}:error-feedback`);
    this.pendingK = null;
  }

  async readResidual(): Promise<Float32Array> {
    this.assertAlive();
    return this.ctx.readFloats(this.residual, 0, this.n);
  }

  /** Restores a residual saved earlier (a volunteer's reload). */
  setResidual(values: Float32Array): void {
    this.assertAlive();
    if (values.length !== this.n) throw new RangeError(`residual of ${values.length} floats for ${this.n}`);
    this.ctx.write(this.residual, values);
  }

  resetResidual(): void {
    this.assertAlive();
    this.ctx.write(this.residual, new Float32Array(this.n));
  }

  /** Frees every buffer. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const buffer of this.owned) buffer.destroy();
  }

  private selectAndQuantize(current: GPUBuffer, k: number): Dispatch[] {
    const { ctx, label, settings } = this;
    const dispatches: Dispatch[] = [
      ctx.dispatch(
        `${label}:accumulate`,
        compressShader('compress_accumulate', { WORKGROUP_SIZE: STREAM_WORKGROUP }),
        [this.acc, this.keys, this.start, current, this.residual, this.params],
        [this.streamGroups],
      ),
      ...(this.chunkOffsets ? this.selectPerChunk(this.chunkOffsets) : this.selectOverAll()),
    ];
    if (k > 0) {
      dispatches.push(
        ctx.dispatch(
          `${label}:quantize`,
          compressShader('compress_quantize', {
            WORKGROUP_SIZE: QUANTIZE_WORKGROUP,
            BITS: settings.bits,
            BLOCK_SIZE: settings.blockSize,
          }),
          [this.words, this.scales, this.outValue, this.params],
          [Math.ceil(k / settings.blockSize)],
        ),
      );
    }
    return dispatches;
  }

  /** One top-k over every candidate: a radix select over the whole array, then compaction. */
  private selectOverAll(): Dispatch[] {
    const { ctx, label } = this;
    const compact = { WORKGROUP_SIZE: COMPACT_WORKGROUP, PER_THREAD: COMPACT_PER_THREAD };
    const dispatches: Dispatch[] = [];
    for (const shift of RADIX_SHIFTS) {
      dispatches.push(
        ctx.dispatch(
          `${label}:histogram:${shift}`,
          compressShader('compress_histogram', { WORKGROUP_SIZE: STREAM_WORKGROUP, SHIFT: shift }),
          [this.hist, this.keys, this.state, this.params],
          [this.streamGroups],
        ),
        ctx.dispatch(
          `${label}:select:${shift}`,
          compressShader('compress_select_bin', { SHIFT: shift }),
          [this.hist, this.state],
          [1],
        ),
      );
    }
    dispatches.push(
      ctx.dispatch(
        `${label}:block-counts`,
        compressShader('compress_block_counts', compact),
        [this.blockAbove, this.blockTies, this.keys, this.state, this.params],
        [this.blocks],
      ),
      ctx.dispatch(
        `${label}:block-scan`,
        compressShader('compress_block_scan'),
        [this.blockOut, this.blockTieStart, this.blockAbove, this.blockTies, this.state, this.params],
        [1],
      ),
      ctx.dispatch(
        `${label}:compact`,
        compressShader('compress_compact', compact),
        [
          this.outIndex,
          this.outValue,
          this.keys,
          this.acc,
          this.blockOut,
          this.blockTieStart,
          this.state,
          this.params,
        ],
        [this.blocks],
      ),
    );
    return dispatches;
  }

  /** SparseLoCo's top-k per chunk: a workgroup selects and compacts each chunk's share. */
  private selectPerChunk(chunkOffsets: GPUBuffer): Dispatch[] {
    return [
      this.ctx.dispatch(
        `${this.label}:chunk-select`,
        compressShader('compress_chunk_select', { CHUNK_SIZE: this.settings.chunkSize as number }),
        [this.outIndex, this.outValue, this.keys, this.acc, chunkOffsets, this.params],
        [this.chunks],
      ),
    ];
  }

  private async readU32(buffer: GPUBuffer, count: number): Promise<Uint32Array> {
    if (count === 0) return new Uint32Array(0);
    return new Uint32Array(await this.ctx.readBytes(buffer, 0, count * 4));
  }

  private assertAlive(): void {
    if (this.destroyed) throw new GpuError('ERR_DEVICE_LOST', `${this.label}: used after destroy()`);
  }
}
