// A round frame built on the CPU, exactly as the GPU compressor would build it from the same
// values (kernels/reference/compress.ts is its specification): random-k candidates from the
// round's seed, top-k, blockwise quantization, framed for the wire. GPU-less test peers (and
// attackers) use it to send frames the relay and every peer accept as the run's format.
import { compressReference } from '../../kernels/reference/compress.ts';
import { frameOf } from '../../kernels/round/payload.ts';
import type { CompressionSettings } from '../../protocol/compression-settings.ts';
import { encodeTensorFrame } from '../../protocol/tensor-frame.ts';

export function cpuFrame(
  values: Float32Array,
  compression: CompressionSettings,
  round: number,
  seed: number,
  roundingSeed = seed ^ 0x9e3779b9,
): Uint8Array {
  const { codes: _, ...payload } = compressReference(values, compression, seed, roundingSeed >>> 0);
  return encodeTensorFrame(frameOf(payload, round));
}
