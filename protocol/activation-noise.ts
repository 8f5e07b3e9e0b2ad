// The stochastic-rounding seed of one activation frame (the -sr codecs of
// protocol/activation-frame.ts). It comes from the sender's noise stream (a run or a peer's,
// protocol/noise-stream.ts) and the frame's place in the run, for two reasons:
// - no two frames round with the same noise: with a fixed seed, value j of every microbatch
//   would be offset by the same u_j, a fixed quantizer rather than an unbiased one, and the
//   errors would add up over a step's microbatches instead of averaging out;
// - encoding the same frame again (a retry) gives the same bytes, and the GPU encoder and its
//   CPU reference agree without exchanging anything but this number.
// Value j of the frame then rounds up with the noise unitFromHash(randomKHash(seed, j))
// (protocol/random-k.ts), the hash the GPU computes word for word. A volunteer's stream is
// noise-stream.ts's noiseStreamOf(run seed, its key), so that no two peers round alike
// (kernels/pipeline/stage-boundary.ts); the in-process links of the tests and the benchmark take
// one stream for the whole pipeline.
import type { ActivationDirection } from './activation-frame.ts';
import { deriveSeed } from './random-k.ts';

/** Where a frame sits in the run: what its header says of it. */
export interface ActivationNoiseKey {
  readonly round: number;
  readonly microbatch: number;
  readonly boundary: number;
  readonly direction: ActivationDirection;
}

export function activationRoundingSeed(stream: number, key: ActivationNoiseKey): number {
  const link = 2 * key.boundary + (key.direction === 'forward' ? 0 : 1);
  return deriveSeed(deriveSeed(deriveSeed(stream, key.round), key.microbatch), link);
}
