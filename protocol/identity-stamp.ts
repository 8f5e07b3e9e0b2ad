// The proof of work an identity carries (docs/ARCHITECTURE.md, "Untrusted volunteers"): a hashcash stamp
// (Back, 2002) bound to the peer's public key and the run. A stamp is a counter such that
//
//   SHA-256("potluck-stamp-v1|" runId "|" publicKey "|" counter)
//
// starts with the run's `identity.stampBits` zero bits. Finding one takes 2^bits hashes on
// average; checking one takes a single hash, so the relay verifies at hello in microseconds. A
// volunteer pays once per identity and run and keeps the stamp with its key; someone making ten
// thousand identities pays ten thousand times. The domain tag keeps the text from being any
// other signed or hashed message; the key and the run keep a stamp from being reused for
// another identity or another run. Checking never throws on what a peer sends.
import { type Sha256Midstate, sha256Finish, sha256Midstate } from './sha256-sync.ts';

/** The most zero bits a run may ask for: 2^32 hashes is hours in a browser, far past useful. */
export const MAX_STAMP_BITS = 32;
/** A counter is a decimal safe integer: at most 16 digits, no sign, no leading zeros. */
const COUNTER = /^(0|[1-9][0-9]{0,15})$/;
const encoder = new TextEncoder();

export type StampRefusal =
  | 'ERR_SWARM_STAMP_MISSING' // the hello carries no stamp
  | 'ERR_SWARM_STAMP_MALFORMED' // not a counter
  | 'ERR_SWARM_STAMP_WEAK'; // too few zero bits for this key and run (also: made for another key or run)

export type StampCheck = { ok: true } | { ok: false; code: StampRefusal; message: string };

/** The text hashed before the counter. */
export function stampPrefix(runId: string, publicKey: string): string {
  return `potluck-stamp-v1|${runId}|${publicKey}|`;
}

/** Leading zero bits of a digest given as big-endian 32-bit words. */
export function leadingZeroBits(words: Uint32Array): number {
  let zeros = 0;
  for (const word of words) {
    if (word !== 0) return zeros + Math.clz32(word);
    zeros += 32;
  }
  return zeros;
}

/** Leading zero bits of the stamp text for `counter` (a string already known to be a counter). */
function stampStrength(mid: Sha256Midstate, prefix: Uint8Array, counter: string): number {
  const tail = new Uint8Array(prefix.length - mid.bytesHashed + counter.length);
  tail.set(prefix.subarray(mid.bytesHashed));
  for (let i = 0; i < counter.length; i++) tail[prefix.length - mid.bytesHashed + i] = counter.charCodeAt(i);
  return leadingZeroBits(sha256Finish(mid, tail));
}

/** Whether `stamp` proves `bits` of work for `publicKey` on `runId`. */
export function checkStamp(runId: string, publicKey: string, stamp: unknown, bits: number): StampCheck {
  if (stamp === undefined || stamp === null || stamp === '')
    return {
      ok: false,
      code: 'ERR_SWARM_STAMP_MISSING',
      message: `this run needs a ${bits}-bit identity stamp`,
    };
  if (typeof stamp !== 'string' || !COUNTER.test(stamp) || !Number.isSafeInteger(Number(stamp)))
    return {
      ok: false,
      code: 'ERR_SWARM_STAMP_MALFORMED',
      message: 'an identity stamp is a decimal counter',
    };
  const prefix = encoder.encode(stampPrefix(runId, publicKey));
  const strength = stampStrength(sha256Midstate(prefix), prefix, stamp);
  if (strength < bits)
    return {
      ok: false,
      code: 'ERR_SWARM_STAMP_WEAK',
      message: `the identity stamp has ${strength} of ${bits} zero bits for this key and run`,
    };
  return { ok: true };
}

export interface StampSearch {
  /** The first counter to try. */
  readonly from: number;
  /** How many counters to try. */
  readonly count: number;
}

/**
 * The first counter in [from, from + count) whose stamp reaches `bits`, or null. Synchronous and
 * bounded, so a caller (web/src/peer/stamp-mint.ts) searches in slices and reports progress.
 */
export function searchStamp(
  runId: string,
  publicKey: string,
  bits: number,
  search: StampSearch,
): string | null {
  const prefix = encoder.encode(stampPrefix(runId, publicKey));
  const mid = sha256Midstate(prefix);
  const rest = prefix.length - mid.bytesHashed;
  const tail = new Uint8Array(rest + 16);
  tail.set(prefix.subarray(mid.bytesHashed));
  const digest = new Uint32Array(8);
  const end = Math.min(search.from + search.count, Number.MAX_SAFE_INTEGER);
  for (let counter = search.from; counter < end; counter++) {
    const digits = String(counter);
    for (let i = 0; i < digits.length; i++) tail[rest + i] = digits.charCodeAt(i);
    if (leadingZeroBits(sha256Finish(mid, tail.subarray(0, rest + digits.length), digest)) >= bits)
      return digits;
  }
  return null;
}
