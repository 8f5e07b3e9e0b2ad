// Every quantized activation codec's payload for a few fixed tensors, as CRC-32s of its scales
// and words (little-endian). Computed once from the CPU reference
// (kernels/reference/activation-codec.ts); the Node and the browser tests hold both their CPU
// reference and their GPU encoder to these numbers, which shows that a frame's bytes are the
// same whoever encodes it, in Node or in Chromium, stochastic rounding included.
//
// The inputs are made with exact arithmetic only (integers from the seeded generator, scaled
// by powers of two), so no engine's Math.log or Math.cos can make them differ.
import { GpuActivationCodec } from '../../kernels/compress/gpu-activation-codec.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { encodeActivationsReference } from '../../kernels/reference/activation-codec.ts';
import {
  type ActivationCodec,
  type ActivationPayload,
  codecRounding,
  isDeltaCodec,
} from '../../protocol/activation-frame.ts';
import { activationRoundingSeed } from '../../protocol/activation-noise.ts';
import { crc32 } from '../../protocol/crc32.ts';
import { writeScalesAndWords } from '../../protocol/frame-envelope.ts';
import { createRng } from '../../protocol/rng.ts';

export interface CodecGoldenCase {
  readonly codec: ActivationCodec;
  readonly rows: number;
  readonly width: number;
  readonly blockSize: number;
  /** CRC-32 of the payload's scales then words. */
  readonly crc: number;
}

export const ACTIVATION_CODEC_GOLDEN: readonly CodecGoldenCase[] = [
  { codec: 'int8', rows: 37, width: 97, blockSize: 128, crc: 0xd5728544 },
  { codec: 'int4', rows: 37, width: 97, blockSize: 128, crc: 0x95bcad76 },
  { codec: 'int3', rows: 37, width: 97, blockSize: 128, crc: 0xfb16f67f },
  { codec: 'int3', rows: 5, width: 33, blockSize: 32, crc: 0xff88e234 },
  { codec: 'int2', rows: 37, width: 97, blockSize: 128, crc: 0xc7b39a5e },
  { codec: 'int2', rows: 5, width: 33, blockSize: 32, crc: 0x33eca3cc },
  { codec: 'delta-int8', rows: 37, width: 97, blockSize: 128, crc: 0xb3344c7e },
  { codec: 'delta-int4', rows: 37, width: 97, blockSize: 128, crc: 0x74261abb },
  { codec: 'delta-int3', rows: 37, width: 97, blockSize: 128, crc: 0xb358b9fc },
  { codec: 'delta-int3', rows: 5, width: 33, blockSize: 32, crc: 0xbb843f17 },
  { codec: 'delta-int2', rows: 37, width: 97, blockSize: 128, crc: 0x5f43d153 },
  { codec: 'delta-int2', rows: 5, width: 33, blockSize: 32, crc: 0xe3a19644 },
  { codec: 'int8-sr', rows: 37, width: 97, blockSize: 128, crc: 0xa687fcef },
  { codec: 'int4-sr', rows: 37, width: 97, blockSize: 128, crc: 0xd2b407ed },
  { codec: 'int3-sr', rows: 37, width: 97, blockSize: 128, crc: 0x80a03aab },
  { codec: 'int3-sr', rows: 5, width: 33, blockSize: 32, crc: 0xb73bbe56 },
  { codec: 'int2-sr', rows: 37, width: 97, blockSize: 128, crc: 0x419d5bc6 },
  { codec: 'int2-sr', rows: 5, width: 33, blockSize: 32, crc: 0x7259aaf7 },
];

export interface GoldenInput {
  readonly values: Float32Array;
  /** The delta codecs' base. */
  readonly cached?: Float32Array;
  /** The stochastic codecs' seed. */
  readonly roundingSeed?: number;
}

/** A residual stream of (rows, width): values in ±1 in steps of 2^-16, every 16th channel ±32. */
export function goldenInput({ codec, rows, width }: Omit<CodecGoldenCase, 'crc'>): GoldenInput {
  const rng = createRng(rows * 7919 + width);
  const values = Float32Array.from(
    { length: rows * width },
    (_, j) => ((rng.nextBelow(2 ** 17) - 2 ** 16) / 2 ** 16) * ((j % width) % 16 === 0 ? 32 : 1),
  );
  const cached = isDeltaCodec(codec)
    ? values.map((v) => v + (rng.nextBelow(2 ** 11) - 2 ** 10) / 2 ** 14)
    : undefined;
  const roundingSeed =
    codecRounding(codec) === 'stochastic'
      ? activationRoundingSeed(12345, { round: 3, microbatch: 1, boundary: 0, direction: 'backward' })
      : undefined;
  return { values, cached, roundingSeed };
}

export function payloadDigest(payload: ActivationPayload): number {
  const { scales, words } = payload;
  const bytes = new Uint8Array(4 * (scales.length + words.length));
  writeScalesAndWords(new DataView(bytes.buffer), 0, scales, words);
  return crc32(bytes);
}

export function cpuPayload(golden: Omit<CodecGoldenCase, 'crc'>): ActivationPayload {
  const { values, cached, roundingSeed } = goldenInput(golden);
  return encodeActivationsReference(values, golden.codec, golden.blockSize, cached, roundingSeed);
}

export async function gpuPayload(
  ctx: GpuContext,
  golden: Omit<CodecGoldenCase, 'crc'>,
): Promise<ActivationPayload> {
  const { codec, rows, width, blockSize } = golden;
  const { values, cached, roundingSeed } = goldenInput(golden);
  const encoder = new GpuActivationCodec(ctx, rows * width, blockSize, 'golden');
  const input = ctx.createStorageFrom('golden:input', values);
  const base = cached && ctx.createStorageFrom('golden:cached', cached);
  try {
    return await encoder.encode(input, rows, width, codec, base, roundingSeed);
  } finally {
    encoder.destroy();
    input.destroy();
    base?.destroy();
  }
}
