// What a training or evaluation step consumes: B windows of T tokens and their next tokens.
// Sources differ (shard files in Node, an in-memory array in a browser worker); batches and
// how they are cut from windows do not.
import type { WindowLocation } from './token-windows.ts';

/**
 * B sequences of T tokens, row-major (B, T). Uint32 whatever the shard dtype: WGSL storage
 * buffers have no 16-bit integers, so this is what the GPU upload wants.
 */
export interface TokenBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly inputs: Uint32Array; // (B, T)
  /** targets[b, t] = inputs[b, t + 1]: the token after each input. */
  readonly targets: Uint32Array; // (B, T)
}

/** Reads `span` tokens starting at a window's location. */
export type WindowReader = (window: WindowLocation, span: number) => Uint32Array;

/** Cuts a batch from windows of seqLen + 1 tokens: inputs are the first T, targets the last T. */
export function assembleBatch(
  windows: readonly WindowLocation[],
  seqLen: number,
  read: WindowReader,
): TokenBatch {
  const batchSize = windows.length;
  checkBatchShape(batchSize, seqLen);
  const inputs = new Uint32Array(batchSize * seqLen); // (B, T)
  const targets = new Uint32Array(batchSize * seqLen); // (B, T)
  for (const [b, location] of windows.entries()) {
    const window = read(location, seqLen + 1);
    inputs.set(window.subarray(0, seqLen), b * seqLen);
    targets.set(window.subarray(1), b * seqLen);
  }
  return { batchSize, seqLen, inputs, targets };
}

export function checkBatchShape(batchSize: number, seqLen: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be >= 1, got ${batchSize}`);
  if (!Number.isInteger(seqLen) || seqLen < 1)
    throw new RangeError(`sequence length must be >= 1, got ${seqLen}`);
}
