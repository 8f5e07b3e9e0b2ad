// The link between two adjacent stages, kept in memory: activations go up (forward), their
// gradients come down (backward), each as a PLTA frame (protocol/activation-frame.ts) that is
// quantized on the sender's GPU (kernels/compress/gpu-activation-codec.ts) and decoded on the
// receiver's CPU, exactly the bytes a WebRTC data channel would carry between two volunteers.
//
// Each end keeps its own ActivationCache (kernels/pipeline/activation-cache.ts) when a direction uses a
// delta codec: the AQ-SGD scheme (Wang et al. 2022) sends the change of a sample's activation
// since it last crossed, which needs the sender and the receiver to hold the same base. The
// cache key is the microbatch's sample id, the data position of its first sequence, so a sample
// that comes back in a later epoch finds its base. AQ-SGD itself sends gradients plain (they do
// not change slowly the way a sample's activations do), but either direction may choose.

import { GpuActivationCodec } from '../../../kernels/compress/gpu-activation-codec.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { ActivationCache } from '../../../kernels/pipeline/activation-cache.ts';
import {
  ACTIVATION_CODECS,
  type ActivationCodec,
  type ActivationDirection,
  type ActivationFrame,
  type ActivationFrameLimits,
  codecBits,
  codecRounding,
  DEFAULT_ACTIVATION_LIMITS,
  decodeActivationFrame,
  dequantizeActivations,
  encodeActivationFrame,
  isDeltaCodec,
} from '../../../protocol/activation-frame.ts';
import { activationRoundingSeed } from '../../../protocol/activation-noise.ts';
import type { CodeBits } from '../../../protocol/signed-codes.ts';

/** What each direction of a link sends. */
export interface LinkCodecs {
  readonly forward: ActivationCodec;
  readonly backward: ActivationCodec;
  /**
   * What a direction with a delta codec sends when the receiver holds no base for the sample
   * (its first crossing, or after an eviction); by default the delta codec's width, plain. A
   * delta's error is at most half a step of the change since the base plus the base's own
   * error, so a wider first crossing gives every delta after it a better start.
   */
  readonly firstCrossing?: ActivationCodec;
}

export interface ActivationLinkOptions {
  /** The boundary's index: 0 between stages 0 and 1. */
  readonly boundary: number;
  /** B·T of one microbatch. */
  readonly rows: number;
  /** C. */
  readonly width: number;
  readonly codecs: LinkCodecs;
  /** Values per quantization scale. Default 128. */
  readonly blockSize?: number;
  /** Bytes each end's cache may hold per direction (delta codecs only). Default 64 MiB. */
  readonly cacheBytes?: number;
  /**
   * The senders' stochastic-rounding stream (the -sr codecs); each frame's seed comes from it
   * and the frame's place (protocol/activation-noise.ts). Default 0.
   */
  readonly noiseStream?: number;
  readonly limits?: ActivationFrameLimits;
}

/** Frame fields the sender fills in besides the tensor. */
export interface FrameHeader {
  readonly round: number;
  readonly microbatch: number;
  readonly sampleIdBase: number;
}

export interface LinkTraffic {
  frames: number;
  bytes: number;
  /** Frames sent as a delta against the cached base. */
  deltaFrames: number;
}

/** One direction's sending and receiving ends. */
interface Direction {
  readonly codec: ActivationCodec;
  readonly encoder: GpuActivationCodec;
  /** The delta base, uploaded for the GPU encoder. */
  readonly base: GPUBuffer | null;
  readonly senderCache: ActivationCache | null;
  readonly receiverCache: ActivationCache | null;
  /** Frames sent and not yet received, in order, with the microbatch the sender said each is. */
  readonly queue: { readonly microbatch: number; readonly bytes: Uint8Array }[];
  readonly traffic: LinkTraffic;
}

const DEFAULT_BLOCK_SIZE = 128;
const DEFAULT_CACHE_BYTES = 64 * 2 ** 20;

export class ActivationLink {
  readonly boundary: number;
  private readonly directions: Record<ActivationDirection, Direction>;
  private readonly blockSize: number;
  private readonly limits: ActivationFrameLimits;
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    private readonly options: ActivationLinkOptions,
  ) {
    const { boundary, rows, width, codecs } = options;
    this.boundary = boundary;
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.limits = options.limits ?? DEFAULT_ACTIVATION_LIMITS;
    for (const codec of [codecs.forward, codecs.backward, codecs.firstCrossing ?? 'fp32'])
      if (!ACTIVATION_CODECS.includes(codec)) throw new RangeError(`unknown activation codec ${codec}`);
    if (codecs.firstCrossing && isDeltaCodec(codecs.firstCrossing))
      throw new RangeError(`a first crossing has no base: ${codecs.firstCrossing} cannot be one`);
    // The lower stage sends forward and receives backward, the upper stage the reverse; each
    // end has one cache for both directions, as a peer would (the cache keys by direction).
    const anyDelta = isDeltaCodec(codecs.forward) || isDeltaCodec(codecs.backward);
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    const lower = anyDelta ? new ActivationCache(cacheBytes) : null;
    const upper = anyDelta ? new ActivationCache(cacheBytes) : null;
    const make = (
      direction: ActivationDirection,
      codec: ActivationCodec,
      from: typeof lower,
      to: typeof lower,
    ) => {
      const label = `link${boundary}.${direction}`;
      const delta = isDeltaCodec(codec);
      return {
        codec,
        encoder: new GpuActivationCodec(ctx, rows * width, this.blockSize, `${label}.codec`),
        base: delta ? ctx.createStorage(`${label}.base`, rows * width * 4) : null, // (B, T, C)
        senderCache: delta ? from : null,
        receiverCache: delta ? to : null,
        queue: [],
        traffic: { frames: 0, bytes: 0, deltaFrames: 0 },
      };
    };
    this.directions = {
      forward: make('forward', codecs.forward, lower, upper),
      backward: make('backward', codecs.backward, upper, lower),
    };
  }

  /** Bytes and frames sent so far in `direction`. */
  traffic(direction: ActivationDirection): Readonly<LinkTraffic> {
    return this.directions[direction].traffic;
  }

  resetTraffic(): void {
    for (const d of Object.values(this.directions))
      Object.assign(d.traffic, { frames: 0, bytes: 0, deltaFrames: 0 });
  }

  /** Encodes the (rows, width) tensor in `tensor` on its sender's GPU and queues the frame. */
  async send(direction: ActivationDirection, tensor: GPUBuffer, header: FrameHeader): Promise<void> {
    this.assertAlive();
    const d = this.directions[direction];
    const { rows, width } = this.options;
    let codec = d.codec;
    let base: GPUBuffer | undefined;
    if (d.senderCache && d.base) {
      const key = { boundary: this.boundary, direction, sampleId: header.sampleIdBase };
      const choice = d.senderCache.codecFor(key, rows * width, codecBits(d.codec) as CodeBits);
      codec = choice.codec;
      if (choice.cached) {
        this.ctx.write(d.base, choice.cached);
        base = d.base;
      } else if (this.options.codecs.firstCrossing) codec = this.options.codecs.firstCrossing;
    }
    const roundingSeed =
      codecRounding(codec) === 'stochastic'
        ? activationRoundingSeed(this.options.noiseStream ?? 0, {
            ...header,
            boundary: this.boundary,
            direction,
          })
        : undefined;
    const payload = await d.encoder.encode(tensor, rows, width, codec, base, roundingSeed);
    const frame: ActivationFrame = {
      ...header,
      direction,
      codec,
      boundary: this.boundary,
      rows,
      width,
      blockSize: this.blockSize,
      ...payload,
    };
    const bytes = encodeActivationFrame(frame);
    // The sender keeps the decoded tensor, never its exact one (kernels/pipeline/activation-cache.ts says why).
    d.senderCache?.accept(frame);
    d.queue.push({ microbatch: header.microbatch, bytes });
    d.traffic.frames++;
    d.traffic.bytes += bytes.length;
    if (isDeltaCodec(codec)) d.traffic.deltaFrames++;
  }

  /** The microbatch of the next frame waiting in `direction`, or null. */
  peek(direction: ActivationDirection): number | null {
    return this.directions[direction].queue[0]?.microbatch ?? null;
  }

  /**
   * Takes the next frame in `direction` and decodes it as the receiving peer would: refuses
   * what a peer's frame could get wrong with the frame's error code, here a bug of ours.
   */
  receive(direction: ActivationDirection, microbatch: number): Float32Array {
    this.assertAlive();
    const d = this.directions[direction];
    const bytes = d.queue.shift()?.bytes;
    if (!bytes) throw new GpuError('ERR_STATE', `link ${this.boundary}: no ${direction} frame waiting`);
    const decoded = decodeActivationFrame(bytes, this.limits);
    if (!decoded.ok)
      throw new Error(`link ${this.boundary}: ${decoded.error.code}: ${decoded.error.message}`);
    const frame = decoded.value;
    const { rows, width } = this.options;
    if (
      frame.microbatch !== microbatch ||
      frame.direction !== direction ||
      frame.boundary !== this.boundary ||
      frame.rows !== rows ||
      frame.width !== width
    )
      throw new GpuError(
        'ERR_STATE',
        `link ${this.boundary}: expected ${direction} microbatch ${microbatch} (${rows}x${width}), got ${frame.direction} ${frame.microbatch} (${frame.rows}x${frame.width})`,
      );
    const values = d.receiverCache ? d.receiverCache.accept(frame) : dequantizeActivations(frame);
    if (!values.ok) throw new Error(`link ${this.boundary}: ${values.error.code}: ${values.error.message}`);
    // The cache hands out its own copy, which must not be changed: the stage only uploads it.
    return values.value;
  }

  /** Frees the GPU buffers. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const d of Object.values(this.directions)) {
      d.encoder.destroy();
      d.base?.destroy();
    }
  }

  private assertAlive(): void {
    if (this.destroyed) throw new GpuError('ERR_DEVICE_LOST', `link ${this.boundary} used after destroy()`);
  }
}
