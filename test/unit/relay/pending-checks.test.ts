// A check lives in the memory of the relay that asked for it; the database keeps that it was
// asked until its settlement is in the ledger. A relay that opens the run after one stopped with
// checks out (a restart, another relay of a cluster taking over) forfeits their members'
// unsettled provisional credit, without a ban: otherwise a member cheating in a checked round
// would bank it once a later, honest round's check passed (an outside attack did, by forcing
// the lease to move).
import { expect, it } from 'vitest';
import { encodeLocalState } from '../../../protocol/local-state-file.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { ManualClock } from '../../../relay/clock.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { openPendingCheckRecord } from '../../../relay/rounds/pending-check-record.ts';
import { type PendingCheck, Verification } from '../../../relay/rounds/verification.ts';

const N = 8;
const config = {
  probationRounds: 2,
  checkProbability: 0.25,
  revealMs: 1_000,
  probationWeight: 0.25,
  maxUnansweredChecks: 2,
};
const state = encodeLocalState({
  m: new Float32Array(N),
  v: new Float32Array(N),
  residual: new Float32Array(N),
  step: 0,
  round: 0,
});

const verificationWith = (options: Partial<ConstructorParameters<typeof Verification>[0]>) =>
  new Verification({
    config,
    totalFloats: N,
    clock: new ManualClock(),
    log: silentLogger,
    check: async () => ({ ok: true, agreement: 1, predicted: 0 }),
    trainTokens: async () => new Uint16Array(0),
    onBan: () => {},
    ...options,
  });

async function pending(peer: string, round: number): Promise<PendingCheck> {
  const work = { peer } as unknown as PendingCheck['work'];
  return { round, peer, stateHash: await sha256Hex(state), shard: { start: 0, end: 1 }, work };
}

it('forfeits, without a ban, the credit whose check a stopped relay left unsettled', async () => {
  const sql = await openPglite();
  const record = await openPendingCheckRecord(sql, 'run-1', silentLogger);
  // The first relay asks two members for checks; one is judged and its settlement recorded.
  const first = verificationWith({ record });
  first.expect([await pending('honest', 4), await pending('cheat', 4)]);
  expect(await first.reveal('honest', 4, state)).toEqual({ kind: 'accepted' });
  await first.idle();
  first.recorded(first.unrecorded());
  // ...and stops with the cheat's check out. The next relay to open the run forfeits it.
  const lost = await record.takeLost();
  expect(lost).toEqual([{ peer: 'cheat', round: 4 }]);
  const next = verificationWith({ record, lost });
  const { settlements, bans } = next.unrecorded();
  expect(settlements).toEqual([expect.objectContaining({ peerKey: 'cheat', outcome: 'forfeited' })]);
  expect(bans).toEqual([]);
  // Taken once: a third relay has nothing left to forfeit.
  expect(await record.takeLost()).toEqual([]);
  await sql.close();
});
