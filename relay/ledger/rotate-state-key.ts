// The operator's key rotation (`npm run relay-key -- rotate`) on a state folder: a new key, the
// change recorded in the ledger (rotate-key.ts), the new key swapped in as relay-key.pkcs8 and
// the old one kept beside it as relay-key.pkcs8.retired-<time>. The steps are ordered so that
// a crash at any point leaves something the next run can finish or undo:
//
//   1. the new key is written to relay-key.pkcs8.next;
//   2. the ledger records the rotation (one transaction);
//   3. the old file is hard-linked to its retired name, and .next renamed over it.
//
// Found at the start of a run, a .next the ledger's last rotation hands over to is swapped in
// (3 had not happened); a .next the ledger never names never reached it and is deleted; one
// it names otherwise is left for the operator to look at, never deleted (it may be the only
// copy of a key the ledger needs).
import { link, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyRotation } from '../../protocol/ledger-keys.ts';
import { LedgerError } from './errors.ts';
import { Ledger } from './ledger.ts';
import { createRelayKeyFile, RELAY_KEY_FILE, readRelayKey } from './relay-signer.ts';
import type { Sql } from './sql.ts';

export interface StateKeyRotation {
  /** The retired key and the key now in relay-key.pkcs8. */
  readonly from: string;
  readonly to: string;
  /** What the ledger recorded; null when no round was committed yet (nothing to hand over). */
  readonly rotation: KeyRotation | null;
  /** Where the retired key is kept. */
  readonly retiredFile: string;
  /** This run finished a rotation an earlier one recorded but did not swap in. */
  readonly resumed: boolean;
}

/** `now` dates the relay-key entry and names the retired file. */
export async function rotateStateKey(
  stateDir: string,
  sql: Sql,
  now: () => Date = () => new Date(),
): Promise<StateKeyRotation> {
  const keyFile = join(stateDir, RELAY_KEY_FILE);
  const nextFile = `${keyFile}.next`;
  const from = await readRelayKey(keyFile);
  if (!from) throw new LedgerError('ERR_RELAY_KEY', `no ${RELAY_KEY_FILE} in ${stateDir}: nothing to rotate`);
  const ledger = await Ledger.open(sql, from, now);

  const pending = await readRelayKey(nextFile);
  if (pending) {
    const rotations = await ledger.rotations();
    const last = rotations.at(-1);
    if (last?.fromKey === from.publicKey && last.toKey === pending.publicKey) {
      const retiredFile = await swapIn(keyFile, nextFile, now());
      return { from: from.publicKey, to: pending.publicKey, rotation: last, retiredFile, resumed: true };
    }
    if (rotations.some((r) => r.fromKey === pending.publicKey || r.toKey === pending.publicKey))
      throw new LedgerError(
        'ERR_RELAY_KEY',
        `${nextFile} holds ${pending.publicKey}, a key the ledger names, and ${keyFile} is not the key it ` +
          'hands over from: move one aside once you know which is the ledger’s (npm run relay-key -- show)',
      );
    await unlink(nextFile);
  }

  // Only the key in force may hand over, and only a ledger that verifies is worth handing.
  await ledger.assertIntact();
  const to = await createRelayKeyFile(nextFile);
  const rotation = await ledger.rotateKey(to);
  const retiredFile = await swapIn(keyFile, nextFile, now());
  // What the relay checks when it starts with the new key, checked now.
  await (await Ledger.open(sql, to, now)).assertIntact();
  return { from: from.publicKey, to: to.publicKey, rotation, retiredFile, resumed: false };
}

/** Keeps the old key under its retired name, then puts the new one in its place (rename is atomic). */
async function swapIn(keyFile: string, nextFile: string, at: Date): Promise<string> {
  // 2025-06-01T12:30:05.123Z → 2025-06-01T12-30-05Z: no ':' (Windows, scp) and sortable.
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replaceAll(':', '-');
  const retiredFile = `${keyFile}.retired-${stamp}`;
  await link(keyFile, retiredFile);
  await rename(nextFile, keyFile);
  return retiredFile;
}
