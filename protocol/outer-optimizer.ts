// DiLoCo's outer optimizer: SGD with Nesterov momentum on the averaged pseudo-gradient,
// with PyTorch's formulation (torch.optim.SGD, nesterov=True):
//   m ← μ m + g;   θ ← θ − lr (g + μ m)
// It runs on the CPU in fp32 (every operation rounded with Math.fround), because every peer
// must produce the same bits; a GPU may fuse multiply-adds where the CPU does not.

export class NesterovOuter {
  /** Momentum buffer; part of a peer's state, saved with its weights. */
  readonly momentum: Float32Array;

  constructor(
    n: number,
    readonly lr: number,
    readonly mu: number,
  ) {
    this.momentum = new Float32Array(n);
  }

  /** Updates `weights` and this optimizer's momentum in place with the pseudo-gradient `g`. */
  step(weights: Float32Array, g: Float32Array): void {
    nesterovStep(weights, this.momentum, g, this.lr, this.mu);
  }
}

/**
 * One Nesterov step on `weights` and `momentum` in place (θ_start − θ_local averaged in `g`):
 * the buffers may be the optimizer's own, or copies a peer keeps until the round commits.
 */
export function nesterovStep(
  weights: Float32Array,
  momentum: Float32Array,
  g: Float32Array,
  lr: number,
  mu: number,
): void {
  if (weights.length !== momentum.length || g.length !== momentum.length)
    throw new RangeError(
      `outer step: ${weights.length} weights, ${g.length} gradients, ${momentum.length} expected`,
    );
  const flr = Math.fround(lr);
  const fmu = Math.fround(mu);
  for (let i = 0; i < weights.length; i++) {
    const gi = g[i] as number;
    const m = Math.fround(Math.fround(fmu * (momentum[i] as number)) + gi);
    momentum[i] = m;
    const update = Math.fround(gi + Math.fround(fmu * m));
    weights[i] = Math.fround((weights[i] as number) - Math.fround(flr * update));
  }
}
