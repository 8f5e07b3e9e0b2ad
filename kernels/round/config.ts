// One round's configuration (see ../shared/DESIGN.md, "One training round"): how long a peer
// trains alone, how its pseudo-gradient is compressed, and how the outer optimizer applies
// the average. Defaults follow DiLoCo (Douillard et al., 2023) where it has one.
import type { CompressionSettings } from '../compress/settings.ts';

export interface RoundConfig {
  /** H: AdamW steps each peer takes on its own shard between exchanges. */
  readonly innerSteps: number;
  /** Outer learning rate on the averaged pseudo-gradient; DiLoCo's 0.7. */
  readonly outerLr: number;
  /** Nesterov momentum of the outer optimizer; DiLoCo's 0.9. */
  readonly outerMomentum: number;
  /** What a peer sends: each stage can be switched off (DENSE switches off all three). */
  readonly compression: CompressionSettings;
}

/** No compression: every parameter as fp32 (DiLoCo as published). */
export const DENSE: CompressionSettings = { randomK: 1, topK: 1, bits: 32, blockSize: 128 };

export const DEFAULT_ROUND: RoundConfig = {
  innerSteps: 50,
  outerLr: 0.7,
  outerMomentum: 0.9,
  // CocktailSGD's shape: a shared random 10%, the largest 10% of those, 4 bits each.
  compression: { randomK: 0.1, topK: 0.1, bits: 4, blockSize: 128 },
};

export function validateRound(config: RoundConfig): void {
  const { innerSteps, outerLr, outerMomentum } = config;
  if (!(Number.isInteger(innerSteps) && innerSteps >= 1))
    throw new RangeError(`innerSteps must be an integer >= 1, got ${innerSteps}`);
  if (!(outerLr > 0 && Number.isFinite(outerLr))) throw new RangeError(`outerLr must be > 0, got ${outerLr}`);
  if (!(outerMomentum >= 0 && outerMomentum < 1))
    throw new RangeError(`outerMomentum must be in [0, 1), got ${outerMomentum}`);
}
