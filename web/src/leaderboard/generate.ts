// Autoregressive generation: predict a token from the text so far, append it, repeat. The model
// is a function from a context window to the next token's logits, so the same loop runs over the
// GPU model in the sample worker and over the CPU reference in tests.

import type { Rng } from '../../../protocol/rng.ts';
import { contextWindow } from './context-window.ts';
import { checkTemperature, sampleToken } from './sampling.ts';

/** The logits (vocabSize) that `inputs` (contextLength ids) give at position `last`. */
export type NextLogits = (inputs: Uint32Array, last: number) => Promise<Float32Array>;

export interface GenerateOptions {
  /** Token ids to continue; at least one. */
  readonly prompt: ArrayLike<number>;
  readonly contextLength: number;
  /** Tokens to add. */
  readonly count: number;
  readonly temperature: number;
  readonly rng: Rng;
  readonly nextLogits: NextLogits;
  /** Hears every new token with all the tokens generated so far. */
  readonly onToken?: (generated: readonly number[]) => void;
  /** Stops between tokens: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The `count` tokens the model writes after `prompt`. */
export async function generate(options: GenerateOptions): Promise<number[]> {
  const { prompt, contextLength, count, temperature, rng, nextLogits, onToken, signal } = options;
  checkTemperature(temperature);
  if (!(Number.isInteger(count) && count >= 0))
    throw new RangeError(`count must be an integer >= 0, got ${count}`);
  const text = Array.from(prompt);
  contextWindow(text, contextLength); // refuses an empty prompt before any work
  const generated: number[] = [];
  while (generated.length < count) {
    signal?.throwIfAborted();
    const { inputs, last } = contextWindow(text, contextLength);
    const token = sampleToken(await nextLogits(inputs, last), temperature, rng);
    text.push(token);
    generated.push(token);
    onToken?.(generated);
  }
  return generated;
}
