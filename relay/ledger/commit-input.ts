// What the round coordinator hands the ledger when a round commits, and the checks it must
// pass first: every field ends up in hashed, signed, permanent entries, so a malformed one
// is refused before anything is written.

import * as v from 'valibot';
import { MAX_ROUND, PublicKeyText, RunId, Sha256Hex } from '../../protocol/ledger-entry.ts';
import { issueText } from '../../protocol/schema-issue.ts';
import { LedgerError } from './errors.ts';

export interface RoundCredit {
  /** The credited peer's Ed25519 public key, base64url. */
  readonly peerKey: string;
  /** Tokens the relay assigned to the peer and counted. */
  readonly tokens: number;
  /** 6 x parameters x tokens, exact. */
  readonly flops: bigint;
}

export interface CommitRoundInput {
  readonly runId: string;
  readonly round: number;
  /** Hash of θ_{r+1} the peers agreed on. */
  readonly modelHash: string;
  readonly trainLoss: number | null;
  /** Token ranges [start, end) trained in the round. */
  readonly shards: readonly (readonly [number, number])[];
  /** One per counted peer; none is allowed (the round is recorded, no entry is written). */
  readonly credits: readonly RoundCredit[];
}

const Offset = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

const InputSchema = v.object({
  runId: RunId,
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND)),
  modelHash: Sha256Hex,
  trainLoss: v.nullable(v.pipe(v.number(), v.finite())),
  shards: v.array(
    v.pipe(
      v.tuple([Offset, Offset]),
      v.check(([start, end]) => start < end, 'a shard is a non-empty range [start, end)'),
    ),
  ),
  credits: v.pipe(
    v.array(
      v.object({
        peerKey: PublicKeyText,
        tokens: Offset,
        flops: v.pipe(v.bigint(), v.minValue(0n)),
      }),
    ),
    v.check(
      (credits) => new Set(credits.map((c) => c.peerKey)).size === credits.length,
      'a peer is credited at most once per round',
    ),
  ),
});

/** Throws ERR_LEDGER_INPUT naming the first problem. */
export function checkCommitInput(input: CommitRoundInput): void {
  const result = v.safeParse(InputSchema, input);
  if (!result.success) {
    throw new LedgerError('ERR_LEDGER_INPUT', issueText(result.issues));
  }
}

/** Unique per entry: a retried commit can never credit a peer twice for one round. */
export function idempotencyKey(runId: string, round: number, peerKey: string): string {
  return `${runId}:${round}:${peerKey}`;
}
