// Picking the next token from the model's logits, on the CPU: softmax with a temperature, drawn
// with a seeded generator (protocol/rng.ts) so a test can pin what comes out. Temperature 0
// means no randomness at all: the likeliest token, every time.

import type { Rng } from '../../../protocol/rng.ts';

/** The hottest temperature the page offers; anything hotter is close to uniform noise anyway. */
export const MAX_TEMPERATURE = 2;

/**
 * Throws a RangeError naming the value unless `temperature` is a number in [0, MAX_TEMPERATURE].
 * Called before any GPU work, so a bad control value fails at once.
 */
export function checkTemperature(temperature: number): void {
  if (!(Number.isFinite(temperature) && temperature >= 0 && temperature <= MAX_TEMPERATURE)) {
    throw new RangeError(`temperature must be a number from 0 to ${MAX_TEMPERATURE}, got ${temperature}`);
  }
}

/** The index of the largest logit; the first of equal ones. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
  return best;
}

/**
 * Probabilities softmax(logits / temperature), in float64. Subtracting the largest logit
 * first keeps exp() from overflowing however cold the temperature (the largest becomes e^0).
 */
export function softmax(logits: ArrayLike<number>, temperature: number): Float64Array {
  checkTemperature(temperature);
  checkLogits(logits);
  const best = argmax(logits);
  const weights = new Float64Array(logits.length);
  if (temperature === 0) {
    weights[best] = 1;
    return weights;
  }
  const top = logits[best] as number;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    weights[i] = Math.exp(((logits[i] as number) - top) / temperature);
    sum += weights[i] as number;
  }
  for (let i = 0; i < weights.length; i++) weights[i] = (weights[i] as number) / sum;
  return weights;
}

/** The next token: the argmax at temperature 0, otherwise one draw from softmax(logits / t). */
export function sampleToken(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  const probabilities = softmax(logits, temperature);
  if (temperature === 0) return argmax(probabilities); // no draw: the stream is left as it was
  // Inverse CDF. The sum of the probabilities can fall a rounding error short of 1, so a draw
  // past the last boundary lands on the last token with any weight.
  let remaining = rng.nextFloat();
  let last = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i] as number;
    if (p === 0) continue;
    last = i;
    remaining -= p;
    if (remaining < 0) return i;
  }
  return last;
}

/** A broken checkpoint can make NaN or infinite logits: say so rather than sample garbage. */
function checkLogits(logits: ArrayLike<number>): void {
  if (logits.length === 0) throw new RangeError('no logits to sample from');
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i])) {
      throw new RangeError(`the model's logit for token ${i} is ${logits[i]}: its weights are broken`);
    }
  }
}
