// What the round coordinator reports as rounds go, for the operator's metrics (relay/metrics.ts):
// each a plain callback, so the coordinator knows nothing of Prometheus and tests can count
// what they see. Causes are short fixed words, never free text: they become metric labels,
// and a label per distinct message would grow without bound.

/** Why a round ended without a commit. */
export const ABORT_CAUSES = [
  'no-manifest', // no member sent a manifest before the deadline
  'no-valid-frame', // manifests came, but no frame they name was held and valid
  'aggregate', // the frames held could not be combined (round-update.ts refused them)
  'state-refused', // the guard refused the new state and there was nothing older to go back to
  'ledger', // the commit (or the rollback's commit) failed
  'error', // deciding threw
] as const;
export type AbortCause = (typeof ABORT_CAUSES)[number];

/** Why a frame did not count. */
export const REJECT_CAUSES = [
  'invalid', // refused at upload: too large, a claim that does not verify, not in the run's format
  'late', // uploaded by a member after its round was decided
  'not-member', // uploaded for a round the uploader has no seat in
  'equivocation', // its author signed two different frames for the round
  'unconfirmed', // held, but no manifest of its author named it by the decision
  'not-useful', // decoded, but it did not lower the held-out loss (usefulness.ts)
] as const;
export type RejectCause = (typeof REJECT_CAUSES)[number];

export interface RoundOpened {
  readonly round: number;
  /** Members seated. */
  readonly seated: number;
  /** Volunteers ready on the committed state and not excluded, benched ones included. */
  readonly ready: number;
  /** The round's expected length: its inner steps at the measured speeds plus its transfers. */
  readonly expectedSeconds: number;
  /** Its deadline: deadlineSlack times that, clamped to [minRoundMs, maxRoundMs]. */
  readonly deadlineSeconds: number;
}

export interface RoundEvents {
  readonly opened?: (round: RoundOpened) => void;
  /** The round committed `seconds` after it opened, counting `counted` frames. */
  readonly committed?: (round: number, seconds: number, counted: number) => void;
  readonly aborted?: (round: number, cause: AbortCause) => void;
  /** One frame (or, for equivocation, one author's frames) did not count. */
  readonly rejected?: (cause: RejectCause) => void;
  /** A failed or unanswered check banned a key (verification.ts). */
  readonly banned?: () => void;
}
