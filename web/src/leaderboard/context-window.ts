// What the model reads to predict the next token: the text so far, cut to its context length.
// The GPU model is built once for one shape, (B, T) = (1, contextLength), so a shorter text is
// padded after its end. Attention is causal, so the padding cannot change the logits at the
// text's last position, which is where the next token is read.

export interface ContextWindow {
  /** contextLength token ids: the text's last tokens first, then zeros. */
  readonly inputs: Uint32Array;
  /** The position of the text's last token in `inputs`: its logits predict the next token. */
  readonly last: number;
}

/** The last `contextLength` tokens of `tokens`, padded to `contextLength`. */
export function contextWindow(tokens: ArrayLike<number>, contextLength: number): ContextWindow {
  if (!(Number.isInteger(contextLength) && contextLength >= 1)) {
    throw new RangeError(`context length must be a positive integer, got ${contextLength}`);
  }
  if (tokens.length === 0) throw new RangeError('the model needs at least one token to continue');
  const kept = Math.min(tokens.length, contextLength);
  const inputs = new Uint32Array(contextLength);
  const from = tokens.length - kept;
  for (let i = 0; i < kept; i++) inputs[i] = tokens[from + i] as number;
  return { inputs, last: kept - 1 };
}
