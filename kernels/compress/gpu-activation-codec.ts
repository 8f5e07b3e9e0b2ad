// A pipeline stage's boundary tensor (activations forward, activation-gradients backward)
// quantized where it lives, on the GPU, so that only the payload crosses back to the CPU:
// blockwise int8, int4, int3 or int2, optionally as the delta against the cached copy both peers
// hold, or rounded stochastically (kernels/wgsl/activation_quantize.wgsl;
// protocol/activation-frame.ts is the format, kernels/reference/activation-codec.ts the
// reference, and kernels/pipeline/route-cache.ts decides delta or plain and keeps the
// base).
//
// The sender's loop per microbatch:
//   choice = cache.codecFor(key, rows * width, bits)
//   if (choice.cached) ctx.write(base, choice.cached)     the decoded copy, not the exact one
//   payload = await codec.encode(input, rows, width, choice.codec, choice.cached ? base : undefined)
//   frame = { ...header, ...payload }; send(encodeActivationFrame(frame)); cache.accept(frame)
// A stochastic codec takes the frame's rounding seed instead of a base:
//   codec.encode(input, rows, width, 'int4-sr', undefined, activationRoundingSeed(stream, header))
import {
  type ActivationCodec,
  type ActivationPayload,
  activationScaleCount,
  activationWordCount,
  codecBits,
  codecRounding,
  inverseLevels,
  isDeltaCodec,
} from '../../protocol/activation-frame.ts';
import { blockCount, isValidBlockSize, packedWordCount } from '../../protocol/quantize.ts';
import type { GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { gridFor } from '../gpu/grid.ts';
import activationQuantize from '../wgsl/activation_quantize.wgsl?raw';
import randomKHash from '../wgsl/random_k_hash.wgsl?raw';

/** Threads per block: 64 keeps a 4096-value block at 64 values per thread, and 32-value blocks busy enough. */
const WORKGROUP_SIZE = 64;
const F32_BYTES = 4;
// WGSL has no includes: the kernel's stochastic rounding calls the one copy of the hash.
const SHADER_SOURCE = `${randomKHash}\n${activationQuantize}`;

export class GpuActivationCodec {
  private readonly words: GPUBuffer;
  private readonly scales: GPUBuffer;
  private readonly params: GPUBuffer;
  private destroyed = false;

  /**
   * `capacity`: the most values (rows * width) one encode() may take; the payload buffers are
   * sized for it at int8, the widest quantized codec.
   */
  constructor(
    private readonly ctx: GpuContext,
    readonly capacity: number,
    readonly blockSize = 128,
    readonly label = 'activation-codec',
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new GpuError('ERR_SHAPE', `${label}: capacity must be >= 1 values, got ${capacity}`);
    if (!isValidBlockSize(blockSize))
      throw new GpuError('ERR_SHAPE', `${label}: block size ${blockSize} is not a multiple of 32 up to 4096`);
    // (blocks,) scales and (blocks * blockSize * 8 / 32,) words: the int8 payload at capacity.
    this.scales = ctx.createStorage(`${label}:scales`, blockCount(capacity, blockSize) * F32_BYTES);
    this.words = ctx.createStorage(`${label}:words`, packedWordCount(capacity, 8, blockSize) * F32_BYTES);
    this.params = ctx.createUniform(`${label}:params`, [0, 0, 0]);
  }

  /**
   * Encodes the (rows, width) f32 tensor in `input` with `codec`; delta codecs read the base
   * from `cached` (same shape), stochastic ones round with the noise of `roundingSeed` (a u32,
   * one per frame), and neither is given to the other codecs. fp32 reads the input back as it
   * is. Resolves to the frame's scales and words.
   */
  async encode(
    input: GPUBuffer,
    rows: number,
    width: number,
    codec: ActivationCodec,
    cached?: GPUBuffer,
    roundingSeed?: number,
  ): Promise<ActivationPayload> {
    this.assertAlive();
    const { ctx, label, blockSize } = this;
    const count = rows * width;
    if (
      !(
        Number.isInteger(rows) &&
        Number.isInteger(width) &&
        rows >= 1 &&
        width >= 1 &&
        count <= this.capacity
      )
    )
      throw new GpuError('ERR_SHAPE', `${label}: ${rows}x${width} is not 1 to ${this.capacity} values`);
    if (input.size < count * F32_BYTES || (cached && cached.size < count * F32_BYTES))
      throw new GpuError('ERR_SHAPE', `${label}: input or cached buffer is smaller than ${count} floats`);
    if (isDeltaCodec(codec) !== (cached !== undefined))
      throw new GpuError(
        'ERR_STATE',
        `${label}: ${codec} ${isDeltaCodec(codec) ? 'needs' : 'takes no'} cached tensor`,
      );
    const stochastic = codecRounding(codec) === 'stochastic';
    if (stochastic !== (roundingSeed !== undefined))
      throw new GpuError(
        'ERR_STATE',
        `${label}: ${codec} ${stochastic ? 'needs' : 'takes no'} rounding seed`,
      );
    if (
      roundingSeed !== undefined &&
      !(Number.isInteger(roundingSeed) && roundingSeed >= 0 && roundingSeed <= 0xffffffff)
    )
      throw new GpuError('ERR_SHAPE', `${label}: rounding seed ${roundingSeed} is not a u32`);
    const bits = codecBits(codec);
    if (bits === 32) return { scales: new Float32Array(0), words: await this.readU32(input, count) };

    const blocks = activationScaleCount(codec, count, blockSize);
    ctx.write(this.params, Uint32Array.of(count, blocks, roundingSeed ?? 0));
    const constants = {
      WORKGROUP_SIZE,
      BITS: bits,
      BLOCK_SIZE: blockSize,
      DELTA: cached ? 1 : 0,
      STOCHASTIC: stochastic ? 1 : 0,
      INVERSE_LEVELS: inverseLevels(codec),
    };
    ctx.run(
      [
        ctx.dispatch(
          `${label}:quantize:${codec}`,
          { name: 'activation_quantize', source: SHADER_SOURCE, constants },
          [this.words, this.scales, input, cached ?? input, this.params],
          gridFor(ctx, blocks, 1),
        ),
      ],
      `${label}:encode`,
    );
    // Both copies are queued before the first await, so an encode() that starts while this one
    // is still reading back runs its kernel after these copies, never under them.
    const [scales, words] = await Promise.all([
      this.readU32(this.scales, blocks),
      this.readU32(this.words, activationWordCount(codec, count, blockSize)),
    ]);
    return { scales: new Float32Array(scales.buffer), words };
  }

  /** Frees the payload buffers. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.words.destroy();
    this.scales.destroy();
    this.params.destroy();
  }

  private async readU32(buffer: GPUBuffer, count: number): Promise<Uint32Array> {
    return new Uint32Array(await this.ctx.readBytes(buffer, 0, count * F32_BYTES));
  }

  private assertAlive(): void {
    if (this.destroyed) throw new GpuError('ERR_DEVICE_LOST', `${this.label}: used after destroy()`);
  }
}
