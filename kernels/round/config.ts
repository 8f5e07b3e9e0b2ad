// One round's configuration (docs/ARCHITECTURE.md, "One training round"): how long a peer
// trains alone, how its pseudo-gradient is compressed, and how the outer optimizer applies
// the average. Defaults follow DiLoCo (Douillard et al., 2023) where it has one.
import type { CompressionSettings } from '../compress/settings.ts';

export interface RoundConfig {
  /** H: AdamW steps each peer takes on its own shard between exchanges. */
  readonly innerSteps: number;
  /** Outer learning rate on the averaged pseudo-gradient (DiLoCo: 0.7). */
  readonly outerLr: number;
  /** Nesterov momentum of the outer optimizer (DiLoCo: 0.9; 0 = plain averaging). */
  readonly outerMomentum: number;
  /** What a peer sends: each stage can be switched off (DENSE switches off all three). */
  readonly compression: CompressionSettings;
}

/** No compression: every parameter as fp32 (DiLoCo as published). */
export const DENSE: CompressionSettings = { randomK: 1, topK: 1, bits: 32, blockSize: 128 };

export const DEFAULT_ROUND: RoundConfig = {
  innerSteps: 50,
  // Plain averaging, not DiLoCo's Nesterov step (0.7, 0.9): with compressed pseudo-gradients,
  // error feedback already carries past rounds forward, and momentum on top of it diverged
  // (bench:swarm and the README's "Compressed rounds" have the figures, as in SparseLoCo).
  outerLr: 1,
  outerMomentum: 0,
  // A shared random 70% of the parameters at 1 bit, one scale per 512: ~0.75 bits per
  // parameter, ~1,000x less than per-step all-reduce at H = 50. Sending more of the parameters
  // coarsely beat sending fewer finely (random 10% at 4 bits, top-k) in every run we made.
  compression: { randomK: 0.7, topK: 1, bits: 1, blockSize: 512 },
};

export function validateRound(config: RoundConfig): void {
  const { innerSteps, outerLr, outerMomentum } = config;
  if (!(Number.isInteger(innerSteps) && innerSteps >= 1))
    throw new RangeError(`innerSteps must be an integer >= 1, got ${innerSteps}`);
  if (!(outerLr > 0 && Number.isFinite(outerLr))) throw new RangeError(`outerLr must be > 0, got ${outerLr}`);
  if (!(outerMomentum >= 0 && outerMomentum < 1))
    throw new RangeError(`outerMomentum must be in [0, 1), got ${outerMomentum}`);
}
