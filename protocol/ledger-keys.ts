// Rotating the relay's signing key without breaking what it signed before. The chain records
// each change as a `relay-key` entry (ledger-entry.ts) naming the new key, and the rotation
// beside it carries two signatures over that entry: the outgoing key's, which authorises the
// change, and the incoming key's, which shows whoever rotated holds it. TUF rotates its root
// keys the same way, signed by both the old and the new root (TUF specification, 5.3.4). So
//
//   - an auditor who trusts the first key follows every rotation from the ledger alone;
//   - database credentials cannot hand the ledger to a key of their own (the outgoing key must
//     sign), nor dress up a made-up history as leading to the relay's key (the incoming key
//     must sign too, over an entry whose hash covers everything before it).
//
// Heights order everything: a rotation at height h puts its new key in force for every head
// that names height h or above and every receipt of an entry above h; below h the key before
// it signs. A head signed by a retired key above its rotation fails, however good the key.
//
// Signed message, UTF-8, by both keys, its prefix apart from every other signed message:
//
//   potluck-relay-key-v1|height|hash|fromKey|toKey
//
// where height and hash are those of the relay-key entry.
import * as v from 'valibot';
import { verifyEd25519 } from './ed25519-verify.ts';
import { PublicKeyText, Sha256Hex } from './ledger-entry.ts';
import { SignatureText } from './ledger-signatures.ts';

export const ROTATION_PREFIX = 'potluck-relay-key-v1';

export const KeyRotationSchema = v.object({
  /** The relay-key entry's height. */
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** The relay-key entry's hash. */
  hash: Sha256Hex,
  /** The key in force below `height`. */
  fromKey: PublicKeyText,
  /** The key in force from `height` on: the entry's peerKey. */
  toKey: PublicKeyText,
  /** fromKey's signature over rotationMessage(...). */
  fromSignature: SignatureText,
  /** toKey's signature over the same message. */
  toSignature: SignatureText,
});
export type KeyRotation = v.InferOutput<typeof KeyRotationSchema>;
export type UnsignedRotation = Omit<KeyRotation, 'fromSignature' | 'toSignature'>;

export function rotationMessage(r: UnsignedRotation): Uint8Array<ArrayBuffer> {
  // TextEncoder always returns a fresh ArrayBuffer-backed array; the cast only tells TS so.
  return new TextEncoder().encode(
    `${ROTATION_PREFIX}|${r.height}|${r.hash}|${r.fromKey}|${r.toKey}`,
  ) as Uint8Array<ArrayBuffer>;
}

/** Which key signs at which height. */
export interface KeySchedule {
  /** The key that signed from genesis up to the first rotation. */
  readonly first: string;
  /** Each rotation's height, its entry's hash and the key it put in force, ascending. */
  readonly changes: readonly { readonly height: number; readonly hash: string; readonly key: string }[];
}

/** A ledger that never rotated: `key` signed everything. */
export const singleKey = (key: string): KeySchedule => ({ first: key, changes: [] });

/** The key in force at `height`: the one that signs a head naming it, or a receipt of its entry. */
export function keyAt(schedule: KeySchedule, height: number): string {
  let key = schedule.first;
  for (const change of schedule.changes) {
    if (change.height > height) break;
    key = change.key;
  }
  return key;
}

/** The key the ledger is in the hands of now. */
export function currentKey(schedule: KeySchedule): string {
  return schedule.changes.at(-1)?.key ?? schedule.first;
}

export type ScheduleCheck =
  | { readonly ok: true; readonly schedule: KeySchedule }
  | { readonly ok: false; readonly height: number; readonly detail: string };

/**
 * The schedule `rotations` (in height order) make, when each is well formed, hands over from
 * the key the one before put in force, and is signed by both its keys; and when the last one
 * hands over to `relayKey` (the key the relay signs with now) and, given `firstKey`, the first
 * one hands over from it. Whether each names an entry the chain holds is the audit's part
 * (ledger-audit.ts). Never throws on malformed input.
 */
export async function followRotations(
  rotations: unknown,
  relayKey: string,
  firstKey?: string,
): Promise<ScheduleCheck> {
  if (!Array.isArray(rotations)) return { ok: false, height: 0, detail: 'not a list of key rotations' };
  const first = firstKey ?? (v.is(KeyRotationSchema, rotations[0]) ? rotations[0].fromKey : relayKey);
  const changes: KeySchedule['changes'][number][] = [];
  let key = first;
  let height = 0;
  for (const input of rotations) {
    const parsed = v.safeParse(KeyRotationSchema, input);
    if (!parsed.success) return { ok: false, height, detail: 'a key rotation is not well formed' };
    const r = parsed.output;
    if (r.height <= height)
      return { ok: false, height: r.height, detail: 'key rotations out of height order' };
    if (r.fromKey !== key)
      return {
        ok: false,
        height: r.height,
        detail: `the rotation hands over from ${r.fromKey}, not from ${key}`,
      };
    if (r.toKey === r.fromKey) return { ok: false, height: r.height, detail: 'a rotation to the same key' };
    const message = rotationMessage(r);
    if (!(await verifyEd25519(r.fromKey, r.fromSignature, message)))
      return {
        ok: false,
        height: r.height,
        detail: `the outgoing key ${r.fromKey} did not sign the rotation`,
      };
    if (!(await verifyEd25519(r.toKey, r.toSignature, message)))
      return { ok: false, height: r.height, detail: `the incoming key ${r.toKey} did not sign the rotation` };
    changes.push({ height: r.height, hash: r.hash, key: r.toKey });
    key = r.toKey;
    height = r.height;
  }
  if (key !== relayKey)
    return {
      ok: false,
      height,
      detail: `the relay signs with ${relayKey}, but the ledger's key is ${key}`,
    };
  return { ok: true, schedule: { first, changes } };
}
