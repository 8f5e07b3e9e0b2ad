// Handing the ledger to a new relay key (protocol/ledger-keys.ts), in one transaction under
// the commits' table lock: a relay-key entry at the chain's tip, following the last committed
// round, and beside it the signatures of the outgoing and the incoming key. From then on only
// the incoming key's heads verify, so every commit first checks that its key is the one in
// force (assertKeyInForce): a relay left running on the old key stops committing rather than
// writing heads no auditor accepts.
import { type KeyRotation, rotationMessage } from '../../protocol/ledger-keys.ts';
import { appendEntry, chainTip } from './append-entry.ts';
import { LedgerError } from './errors.ts';
import type { RelaySigner } from './relay-signer.ts';
import { ROTATIONS_SELECT, type RotationRow, toRotation } from './rows.ts';
import type { Sql } from './sql.ts';

/** Every rotation, in height order. */
export async function readRotations(sql: Sql): Promise<KeyRotation[]> {
  const rows = await sql.query<RotationRow>(`${ROTATIONS_SELECT} order by k.height`);
  return rows.map(toRotation);
}

/** Throws ERR_RELAY_KEY_RETIRED when a rotation put a key other than `publicKey` in force. */
export async function assertKeyInForce(tx: Sql, publicKey: string): Promise<void> {
  const [row] = await tx.query<RotationRow>(`${ROTATIONS_SELECT} order by k.height desc limit 1`);
  if (!row || row.to_key === publicKey) return;
  const last = toRotation(row);
  throw new LedgerError(
    'ERR_RELAY_KEY_RETIRED',
    `the ledger was handed to ${last.toKey} at height ${last.height}; this relay's key ${publicKey} ` +
      'signs nothing more: restart it with the relay-key.pkcs8 of the relay that rotated',
  );
}

/**
 * Runs in `tx`. Returns the rotation, or null when no round was ever committed: nothing is
 * signed yet, so there is nothing to hand over and `to` simply signs from the first round.
 */
export async function rotateKeyIn(
  tx: Sql,
  from: RelaySigner,
  to: RelaySigner,
  now: Date,
): Promise<KeyRotation | null> {
  if (from.publicKey === to.publicKey)
    throw new LedgerError('ERR_LEDGER_INPUT', 'a rotation hands over to another key');
  await tx.query('lock table ledger_entries in exclusive mode');
  await assertKeyInForce(tx, from.publicKey);
  const [last] = await tx.query<{ run_id: string; round: number; model_hash: string }>(
    'select run_id, round, model_hash from rounds order by seq desc limit 1',
  );
  if (!last) return null;
  const entry = await appendEntry(tx, await chainTip(tx), {
    kind: 'relay-key',
    runId: last.run_id,
    round: last.round,
    peerKey: to.publicKey,
    tokens: 0,
    flops: '0',
    modelHash: last.model_hash,
    reason: '',
    createdAt: now.toISOString(),
  });
  const unsigned = { height: entry.height, hash: entry.hash, fromKey: from.publicKey, toKey: to.publicKey };
  const message = rotationMessage(unsigned);
  const rotation: KeyRotation = {
    ...unsigned,
    fromSignature: await from.sign(message),
    toSignature: await to.sign(message),
  };
  await tx.query(
    'insert into relay_keys (height, from_key, from_signature, to_signature) values ($1, $2, $3, $4)',
    [rotation.height, rotation.fromKey, rotation.fromSignature, rotation.toSignature],
  );
  return rotation;
}
