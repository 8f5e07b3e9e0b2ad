// Clipping a pipeline step by the whole model's gradient norm, as the unsplit model clips
// (torch's clip_grad_norm_ over every parameter), when each stage holds only its own share of
// the gradient. Each stage finds the squared L2 norm of the gradient it is about to step on: its
// replicas' gradients summed, and on the first stage, which owns the tied embedding, the head's
// part added, so the tied weight counts once, as in the unsplit model's one buffer (the last
// stage's read-only copy is left out). The relay gathers these and hands every peer the same
// list (protocol/swarm-messages.ts, `stage-norm` and `stage-norms`); every peer, and the relay
// for its log, then adds them up here, in stage order and in float64, so that every replica of
// every stage gets the same norm to the bit and scales by the same factor.

/**
 * The whole model's gradient norm from every stage's sum of squares, in stage order. Throws on
 * one that is NaN, infinite or negative: callers take them from schemas that refuse those.
 */
export function wholeModelNorm(stageSumsOfSquares: readonly number[]): number {
  let sum = 0;
  for (const x of stageSumsOfSquares) {
    if (!(Number.isFinite(x) && x >= 0))
      throw new RangeError(`a stage's sum of squares must be finite and >= 0, got ${x}`);
    sum += x;
  }
  return Math.sqrt(sum);
}
