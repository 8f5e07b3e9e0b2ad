// What crosses a stage's boundaries, as a volunteer sends and takes it: the run config names one
// codec per direction (protocol/run-config.ts), and this file holds everything that follows from
// it. A sender encodes on its GPU (kernels/compress/gpu-activation-codec.ts); a stochastic codec
// rounds with the noise of the frame's own seed, from this peer's stream and the frame's place
// (protocol/activation-noise.ts); a delta codec (AQ-SGD) takes the change against the base it
// holds with the receiving peer, or goes at its own width plain when there is none
// (route-cache.ts). A receiver decodes as untrusted input and refuses, with a typed error and
// before anything runs, a frame in a codec or block size the run does not name for its direction
// (ERR_FRAME_FORMAT: a peer that rounds differently, or sends wider frames than the run pays
// for, would not be training the run's model), or one that is not the microbatch it waits for.
import {
  type ActivationCodec,
  type ActivationDirection,
  type ActivationFrame,
  codecBits,
  codecRounding,
  decodeActivationFrame,
  dequantizeActivations,
  encodeActivationFrame,
  isDeltaCodec,
  quantizedCodec,
} from '../../protocol/activation-frame.ts';
import { activationRoundingSeed } from '../../protocol/activation-noise.ts';
import { type DecodeResult, refuse } from '../../protocol/frame-errors.ts';
import type { PipelineConfig } from '../../protocol/run-config.ts';
import type { CodeBits } from '../../protocol/signed-codes.ts';
import { GpuActivationCodec } from '../compress/gpu-activation-codec.ts';
import type { GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { RouteCache } from './route-cache.ts';

/** Where microbatch m of a step sits: its data and the replicas next to this one on its route. */
export interface MicrobatchPlace {
  /** The step's first token in the training split (the assignment's shard start). */
  readonly shardStart: number;
  /** The previous stage's replica on the route; null on the first stage. */
  readonly below: string | null;
  /** The next stage's replica on the route; null on the last stage. */
  readonly above: string | null;
}

/** A frame's place in the run, as both of its ends know it. */
export interface BoundaryFrame {
  readonly step: number;
  readonly microbatch: number;
  readonly direction: ActivationDirection;
  readonly place: MicrobatchPlace;
}

export interface StageBoundaryOptions {
  readonly ctx: GpuContext;
  readonly pipeline: PipelineConfig;
  readonly stage: number;
  /** B·T of a microbatch. */
  readonly rows: number;
  /** C. */
  readonly width: number;
  /** This peer's stochastic-rounding stream (protocol/noise-stream.ts's noiseStreamOf). */
  readonly noiseStream: number;
  readonly label: string;
}

/**
 * The codecs a receiver takes for a direction whose run codec is `codec`: that codec, and for a
 * delta codec also its width plain, which is what a sample's first crossing with a peer sends.
 */
export function acceptedCodecs(codec: ActivationCodec): readonly ActivationCodec[] {
  return isDeltaCodec(codec) ? [codec, quantizedCodec(codecBits(codec) as CodeBits, false)] : [codec];
}

/**
 * The sample id a frame carries: the data position of the microbatch's first token, so that a
 * sample that comes back next epoch finds its base. Taken mod 2^32 (the frame's field): two
 * positions 2^32 apart share an id, and one is then sent as a delta against the other's base,
 * which both ends still hold alike, so it costs accuracy, never agreement.
 */
export function microbatchSampleId(shardStart: number, m: number, rows: number): number {
  return (shardStart + m * rows) % 2 ** 32;
}

export class StageBoundary {
  private readonly encoders: Record<ActivationDirection, GpuActivationCodec>;
  /** The delta base, uploaded for the GPU encoder; only when a direction uses a delta codec. */
  private readonly base: GPUBuffer | null;
  private readonly routes: RouteCache | null;

  constructor(private readonly o: StageBoundaryOptions) {
    const { ctx, pipeline, rows, width, label } = o;
    const values = rows * width;
    this.encoders = {
      forward: new GpuActivationCodec(ctx, values, pipeline.blockSize, `${label}.forward`),
      backward: new GpuActivationCodec(ctx, values, pipeline.blockSize, `${label}.backward`),
    };
    const anyDelta = isDeltaCodec(pipeline.forward) || isDeltaCodec(pipeline.backward);
    this.base = anyDelta ? ctx.createStorage(`${label}.base`, values * 4) : null; // (B, T, C)
    this.routes = anyDelta ? new RouteCache() : null;
  }

  /** Whether frame `f`, sent or taken here, crosses this stage's upper boundary. */
  private static above(f: BoundaryFrame, sending: boolean): boolean {
    return (f.direction === 'forward') === sending;
  }

  /** The boundary it crosses: boundary s lies between stages s and s + 1. */
  private boundaryOf(f: BoundaryFrame, sending: boolean): number {
    return StageBoundary.above(f, sending) ? this.o.stage : this.o.stage - 1;
  }

  /** The replica at its other end: the one it goes to, or comes from. */
  private static peerOf(f: BoundaryFrame, sending: boolean): string | null {
    return StageBoundary.above(f, sending) ? f.place.above : f.place.below;
  }

  /** Encodes the (rows, width) tensor in `tensor` as the frame `f` of this stage's. */
  async encode(tensor: GPUBuffer, f: BoundaryFrame): Promise<Uint8Array> {
    const { pipeline, rows, width, ctx } = this.o;
    const boundary = this.boundaryOf(f, true);
    const sampleIdBase = microbatchSampleId(f.place.shardStart, f.microbatch, rows);
    const peer = StageBoundary.peerOf(f, true);
    let codec = pipeline[f.direction];
    let base: GPUBuffer | undefined;
    if (isDeltaCodec(codec)) {
      if (peer === null || !this.routes || !this.base)
        throw new GpuError('ERR_STATE', `a ${codec} frame needs the peer it goes to`);
      const choice = this.routes.codecFor(
        peer,
        { boundary, direction: f.direction, sampleId: sampleIdBase },
        rows * width,
        codec,
      );
      codec = choice.codec;
      if (choice.cached) {
        ctx.write(this.base, choice.cached);
        base = this.base;
      }
    }
    const header = { round: f.step, microbatch: f.microbatch, boundary, direction: f.direction };
    const seed =
      codecRounding(codec) === 'stochastic' ? activationRoundingSeed(this.o.noiseStream, header) : undefined;
    const payload = await this.encoders[f.direction].encode(tensor, rows, width, codec, base, seed);
    const frame: ActivationFrame = {
      ...header,
      codec,
      sampleIdBase,
      rows,
      width,
      blockSize: pipeline.blockSize,
      ...payload,
    };
    const bytes = encodeActivationFrame(frame);
    if (isDeltaCodec(pipeline[f.direction]) && peer !== null) {
      // The sender keeps the decoded tensor, as its receiver will (activation-cache.ts says why).
      const kept = this.routes?.accept(peer, frame);
      if (kept && !kept.ok) throw new GpuError('ERR_STATE', `our own frame: ${kept.error.message}`);
    }
    return bytes;
  }

  /**
   * The tensor in a peer's frame `bytes`, which must be the frame `f` this stage waits for, in a
   * codec the run names for its direction. Never throws.
   */
  decode(bytes: Uint8Array | undefined, f: BoundaryFrame): DecodeResult<Float32Array> {
    const { pipeline, rows, width } = this.o;
    const { direction, step, microbatch: m } = f;
    if (!bytes) return refuse('ERR_FRAME_TRUNCATED', `no ${direction} frame for microbatch ${m}`);
    const decoded = decodeActivationFrame(bytes);
    if (!decoded.ok) return decoded;
    const frame = decoded.value;
    const boundary = this.boundaryOf(f, false);
    const sampleId = microbatchSampleId(f.place.shardStart, m, rows);
    if (
      frame.direction !== direction ||
      frame.round !== step ||
      frame.microbatch !== m ||
      frame.boundary !== boundary ||
      frame.sampleIdBase !== sampleId ||
      frame.rows !== rows ||
      frame.width !== width
    )
      return refuse(
        'ERR_FRAME_FIELD',
        `expected ${direction} step ${step} microbatch ${m} boundary ${boundary} sample ${sampleId} (${rows}x${width}), got ${frame.direction} step ${frame.round} microbatch ${frame.microbatch} boundary ${frame.boundary} sample ${frame.sampleIdBase} (${frame.rows}x${frame.width})`,
      );
    const accepted = acceptedCodecs(pipeline[direction]);
    if (!accepted.includes(frame.codec))
      return refuse(
        'ERR_FRAME_FORMAT',
        `a ${direction} frame in ${frame.codec}; the run sends ${accepted.join(' or ')}`,
      );
    if (frame.blockSize !== pipeline.blockSize)
      return refuse(
        'ERR_FRAME_FORMAT',
        `a ${direction} frame of ${frame.blockSize} values per scale; the run sends ${pipeline.blockSize}`,
      );
    if (!isDeltaCodec(pipeline[direction])) return dequantizeActivations(frame);
    const peer = StageBoundary.peerOf(f, false);
    if (peer === null || !this.routes)
      return refuse('ERR_FRAME_FIELD', `a ${direction} frame where no peer sends one`);
    return this.routes.accept(peer, frame);
  }

  /** The relay committed the step: its frames become the bases of the next deltas. */
  commit(): void {
    this.routes?.commit();
  }

  /** The relay aborted the step: no base survives it (route-cache.ts says why). */
  rollback(): void {
    this.routes?.rollback();
  }

  destroy(): void {
    this.encoders.forward.destroy();
    this.encoders.backward.destroy();
    this.base?.destroy();
  }
}
