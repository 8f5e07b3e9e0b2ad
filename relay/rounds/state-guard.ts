// The last line of defence against a poisoned round (docs/ARCHITECTURE.md, "Untrusted
// volunteers"): before the relay commits a new state it scores it on a fixed held-out batch.
// A state scoring more than `margin` above the best of the last few kept states is not
// committed; the run goes back to that best state instead. Robust aggregation bounds what any
// one round can do; this bounds what a run of rounds, each just inside the bound, can do.

export interface KeptState {
  readonly round: number;
  readonly modelHash: string;
  /** Validation loss on the guard's held-out batch. */
  readonly valLoss: number;
}

export type GuardVerdict =
  | { readonly accept: true }
  | { readonly accept: false; readonly reason: string; readonly rollbackTo: KeptState };

export class StateGuard {
  private readonly kept: KeptState[];

  constructor(
    /** A state above (1 + margin) × the best kept loss is refused. */
    private readonly margin: number,
    /** How many committed states are kept to roll back to. */
    private readonly keep: number,
    /** The committed state the run starts from (or resumes at). */
    initial: KeptState,
  ) {
    this.kept = [initial];
  }

  /** The kept states, oldest first. */
  get states(): readonly KeptState[] {
    return this.kept;
  }

  /** The kept state with the lowest loss (the newest among equals). */
  get best(): KeptState {
    let best = this.kept[0] as KeptState;
    for (const state of this.kept) if (state.valLoss <= best.valLoss) best = state;
    return best;
  }

  judge(valLoss: number): GuardVerdict {
    const best = this.best;
    if (!Number.isFinite(valLoss))
      return { accept: false, reason: `validation loss is ${valLoss}`, rollbackTo: best };
    const limit = best.valLoss * (1 + this.margin);
    if (valLoss > limit)
      return {
        accept: false,
        reason: `validation loss ${valLoss.toFixed(4)} is above ${limit.toFixed(4)} (best kept ${best.valLoss.toFixed(4)}, round ${best.round})`,
        rollbackTo: best,
      };
    return { accept: true };
  }

  /** A state was committed (accepted, or the one rolled back to): keep it, drop the oldest. */
  committed(state: KeptState): void {
    this.kept.push(state);
    while (this.kept.length > this.keep) this.kept.shift();
  }
}
