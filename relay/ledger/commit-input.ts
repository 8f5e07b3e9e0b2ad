// What the round coordinator hands the ledger when a round commits, and the checks it must
// pass first: every field ends up in hashed, signed, permanent entries or round metadata, so
// a malformed one is refused before anything is written.

import * as v from 'valibot';
import { PublicKeyText, ReasonText } from '../../protocol/ledger-entry.ts';
import { RoundMetadataSchema } from '../../protocol/round-metadata.ts';
import { issueText } from '../../protocol/schema-issue.ts';
import { LedgerError } from './errors.ts';

export interface RoundCredit {
  /** The credited peer's Ed25519 public key, base64url. */
  readonly peerKey: string;
  /** Tokens the relay assigned to the peer and counted. */
  readonly tokens: number;
  /** 6 x parameters x tokens, exact. */
  readonly flops: bigint;
  /** Whether the relay checked this work in this round, or accepted it unchecked. */
  readonly status: 'verified' | 'provisional';
}

/** The name shown and the GPU time the relay measured, per member counted or checked. */
export interface RoundMember {
  readonly peerKey: string;
  readonly name: string;
  readonly busyMs: number;
}

/** A check of a peer's earlier provisional work: its unsettled credit is verified or lost. */
export interface RoundSettlement {
  readonly peerKey: string;
  readonly outcome: 'verified' | 'forfeited';
  readonly reason: string;
}

export interface RoundBan {
  readonly peerKey: string;
  readonly reason: string;
}

export interface CommitRoundInput {
  readonly runId: string;
  readonly round: number;
  /** Hash of θ_{r+1} the peers agreed on. */
  readonly modelHash: string;
  readonly trainLoss: number | null;
  /** Token ranges [start, end) trained in the round. */
  readonly shards: readonly (readonly [number, number])[];
  /** One per counted peer; none is allowed (the round is recorded and signed all the same). */
  readonly credits: readonly RoundCredit[];
  readonly members: readonly RoundMember[];
  readonly settlements: readonly RoundSettlement[];
  readonly bans: readonly RoundBan[];
}

const Offset = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

/** Each peer once in `items`: one credit, one settlement, one ban per peer per round. */
const oncePerPeer = <T extends { peerKey: string }>(what: string) =>
  v.check<T[], string>(
    (items) => new Set(items.map((x) => x.peerKey)).size === items.length,
    `a peer has at most one ${what} per round`,
  );

const InputSchema = v.object({
  ...RoundMetadataSchema.entries,
  credits: v.pipe(
    v.array(
      v.object({
        peerKey: PublicKeyText,
        tokens: Offset,
        flops: v.pipe(v.bigint(), v.minValue(0n)),
        status: v.picklist(['verified', 'provisional']),
      }),
    ),
    oncePerPeer('credit'),
  ),
  settlements: v.pipe(
    v.array(
      v.object({
        peerKey: PublicKeyText,
        outcome: v.picklist(['verified', 'forfeited']),
        reason: ReasonText,
      }),
    ),
    oncePerPeer('settlement'),
  ),
  bans: v.pipe(v.array(v.object({ peerKey: PublicKeyText, reason: ReasonText })), oncePerPeer('ban')),
});

/** Throws ERR_LEDGER_INPUT naming the first problem. */
export function checkCommitInput(input: CommitRoundInput): void {
  const result = v.safeParse(InputSchema, input);
  if (!result.success) {
    throw new LedgerError('ERR_LEDGER_INPUT', issueText(result.issues));
  }
}

/** Unique per entry: a retried commit can never write one kind of entry twice for a peer and round. */
export function idempotencyKey(runId: string, round: number, kind: string, peerKey: string): string {
  return `${runId}:${round}:${kind}:${peerKey}`;
}
