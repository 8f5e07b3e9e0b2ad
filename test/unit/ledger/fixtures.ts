// Small builders for ledger tests: well-formed keys and hashes from an index, a clock that
// ticks one second per call, and credits counted the way the coordinator counts them.
import { decodeBase64url, encodeBase64url } from '../../../protocol/base64url.ts';
import type { CommitRoundInput, RoundCredit, RoundMember } from '../../../relay/ledger/commit-input.ts';

/** A base64url 32-byte key that is distinct per index (not necessarily a curve point). */
export function peerKey(index: number): string {
  return encodeBase64url(new Uint8Array(32).fill(index + 1));
}

export function modelHash(round: number): string {
  return (round + 1).toString(16).padStart(64, 'a');
}

/** Starts at 2025-01-01T00:00:00Z and moves one second per call. */
export function tickingClock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2025, 0, 1) + 1000 * tick++);
}

/** A model of this many parameters: credits are 6 x parameters x tokens. */
export const PARAMETERS = 124_000_000n;

export function credit(
  peer: number,
  tokens: number,
  status: RoundCredit['status'] = 'verified',
): RoundCredit {
  return { peerKey: peerKey(peer), tokens, flops: 6n * PARAMETERS * BigInt(tokens), status };
}

/** Credited peers as members, named `peer-N`, with 10 ms of GPU time per token. */
export function membersOf(credits: readonly RoundCredit[]): RoundMember[] {
  return credits.map((c) => ({
    peerKey: c.peerKey,
    name: `peer-${(decodeBase64url(c.peerKey)?.[0] ?? 0) - 1}`,
    busyMs: 10 * c.tokens,
  }));
}

export function roundInput(runId: string, round: number, credits: RoundCredit[]): CommitRoundInput {
  return {
    runId,
    round,
    modelHash: modelHash(round),
    trainLoss: 4 - round / 10,
    shards: credits.map((_, i): [number, number] => [round * 1000 + i * 100, round * 1000 + i * 100 + 50]),
    credits,
    members: membersOf(credits),
    settlements: [],
    bans: [],
  };
}

/** The crash test's run (crash.test.ts, crash-child.ts): the same credits on every attempt. */
export const CRASH_RUN = 'crash-run';
export const CRASH_PEERS = 3;

export function crashRound(round: number): CommitRoundInput {
  const credits = Array.from({ length: CRASH_PEERS }, (_, peer) =>
    credit(peer, 100 + ((round * 7 + peer) % 50)),
  );
  return roundInput(CRASH_RUN, round, credits);
}
