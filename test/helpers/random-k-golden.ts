// The random-k candidate lists of a few (seed, fraction, n) cases, as CRC-32s of their
// indices (u32 little-endian). Computed once from protocol/random-k.ts; the Node and the
// browser tests both hold their CPU and GPU paths to these numbers, which proves the index
// stream is the same everywhere without shipping the lists themselves.
import { GpuCompressor } from '../../kernels/compress/gpu-compressor.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { crc32 } from '../../protocol/crc32.ts';
import { keepMaxFor, randomKCandidates } from '../../protocol/random-k.ts';

export interface GoldenCase {
  readonly seed: number;
  readonly fraction: number;
  readonly n: number;
  readonly count: number;
  readonly crc: number;
}

export const RANDOM_K_GOLDEN: readonly GoldenCase[] = [
  { seed: 12345, fraction: 0.1, n: 100_000, count: 10029, crc: 0x0d486805 },
  { seed: 0xdeadbeef, fraction: 0.5, n: 50_000, count: 24972, crc: 0x27448ac0 },
  { seed: 7, fraction: 0.01, n: 300_000, count: 3019, crc: 0x3125036d },
];

export function digest(indices: Uint32Array): { count: number; crc: number } {
  const bytes = new Uint8Array(indices.length * 4);
  const view = new DataView(bytes.buffer);
  for (const [j, index] of indices.entries()) view.setUint32(j * 4, index, true);
  return { count: indices.length, crc: crc32(bytes) };
}

export function cpuCandidates({ seed, fraction, n }: GoldenCase): Uint32Array {
  return randomKCandidates(seed, keepMaxFor(fraction), 0, n);
}

/** The candidates as the GPU compressor picks them: top-k off, so it keeps every one. */
export async function gpuCandidates(
  ctx: GpuContext,
  { seed, fraction, n }: GoldenCase,
): Promise<Uint32Array> {
  const compressor = new GpuCompressor(
    ctx,
    n,
    { randomK: fraction, topK: 1, bits: 32, blockSize: 32 },
    'golden',
  );
  try {
    compressor.setStart(new Float32Array(n).fill(1));
    const current = ctx.createStorage('golden:current', n * 4);
    const payload = await compressor.compress(current, seed, 0);
    current.destroy();
    return payload.indices;
  } finally {
    compressor.destroy();
  }
}
