// How a reader turns the swarm document's `peers` map into the roster a page shows. Any peer in
// the room can write any key of a Yjs map with any value, so every value is untrusted input and
// nothing here throws on it. An entry is shown only when all of these hold:
//
//   - its key is one the relay lists as a member of our run (setMembers: the group of the
//     latest assignment), so keys made up by the thousand are never even read;
//   - its value is a SignedEntry whose text fits MAX_ENTRY_BODY_LENGTH and parses as a
//     PeerEntry (names held to display-name.ts);
//   - its signature verifies under the map key it sits under, over swarmEntryMessage (the
//     run id included), so no peer can write another's row;
//   - it is fresh (within staleMs of our clock) and newer than the entry of that key we show:
//     an older signed entry replayed over a newer one changes nothing.
//
// The roster holds the newest entry it verified per member, so junk written over a member's
// value, or its value deleted, leaves its row as it was until it goes stale or the member signs
// its farewell (phase `left`). At most maxEntries members are looked at, and our own row is
// always in what rows() returns.
import * as v from 'valibot';
import { verifyEd25519 } from '../../../protocol/ed25519-verify.ts';
import {
  decodeEntryBody,
  type PeerEntry,
  type SignedEntry,
  SignedEntrySchema,
} from '../../../protocol/swarm-doc-entry.ts';
import { swarmEntryMessage } from '../../../protocol/swarm-signing.ts';
import { isPeerKey } from './mesh-signals.ts';

/** A raw Ed25519 key in base64url is 43 characters; anything longer is not looked at. */
const MAX_KEY_LENGTH = 64;
/** An entry is dropped once its `updatedAt` is this far from the reader's clock. */
export const DEFAULT_STALE_MS = 60_000;
/**
 * Most rows a roster shows, ours included, and most members it looks at: a relay lists at most
 * MAX_GROUP_SIZE (64) in a round's group, and a pipeline's stages (8 × 64) hold far fewer
 * distinct keys than this in practice. A page cannot usefully show more.
 */
export const DEFAULT_MAX_ROSTER_ENTRIES = 256;

/** One roster row: a verified entry and the key that signed it. */
export interface PeerMetrics extends PeerEntry {
  /** The author's public key: the map key, whose signature the entry carries. */
  readonly key: string;
}

/** Whether `key` is what a `peers` map key must be: a canonical base64url Ed25519 public key. */
export function isRosterKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= MAX_KEY_LENGTH && isPeerKey(key);
}

/**
 * Whether an entry written at `updatedAt` (the writer's clock) is live at `now` (ours). An
 * entry from the future by more than the window counts as stale too: a clock that far off is
 * as wrong as one that far behind, and it must not keep an entry alive for ever.
 */
export function isFresh(updatedAt: number, now: number, staleMs: number): boolean {
  return Math.abs(now - updatedAt) <= staleMs;
}

/**
 * The entry `value` holds if its author, `key`, signed it for run `runId`; null for anything
 * else (wrong shape, too long, bad signature, another key's or another run's). Never rejects.
 */
export async function verifyRosterEntry(
  runId: string,
  key: unknown,
  value: unknown,
): Promise<PeerEntry | null> {
  const read = readSigned(key, value);
  return read && (await verifies(runId, read)) ? read.entry : null;
}

/** An entry as read from the map, its signature not yet checked. */
interface SignedRead {
  readonly key: string;
  readonly entry: PeerEntry;
  readonly signed: SignedEntry;
}

/** What `value` under `key` holds, its signature unchecked; null for anything malformed. */
function readSigned(key: unknown, value: unknown): SignedRead | null {
  if (!isRosterKey(key)) return null;
  try {
    const parsed = v.safeParse(SignedEntrySchema, value, { abortEarly: true });
    if (!parsed.success) return null;
    const entry = decodeEntryBody(parsed.output.body);
    return entry ? { key, entry, signed: parsed.output } : null;
  } catch {
    // A value built to trip the parser (lib0 lets a peer send an object with its own
    // `__proto__`) is malformed like any other; the schemas above are the real check.
    return null;
  }
}

/** Whether the entry's author, its map key, signed exactly its text for run `runId`. */
function verifies(runId: string, read: SignedRead): Promise<boolean> {
  return verifyEd25519(read.key, read.signed.signature, swarmEntryMessage(runId, read.key, read.signed.body));
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export interface SwarmRosterOptions {
  /** The run: entries signed for another run do not verify. */
  readonly runId: string;
  /** Our key: our row comes from our own entry (rows()), never from the map. */
  readonly selfKey: string;
  /** The reader's wall clock in ms since the epoch. */
  readonly now: () => number;
  readonly staleMs?: number;
  readonly maxEntries?: number;
}

/** The verified roster of one reader: the members the relay listed, and their newest entries. */
export class SwarmRoster {
  private readonly runId: string;
  private readonly selfKey: string;
  private readonly now: () => number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private members = new Set<string>();
  /** The newest verified entry of each member. */
  private readonly shown = new Map<string, PeerEntry>();

  constructor(options: SwarmRosterOptions) {
    this.runId = options.runId;
    this.selfKey = options.selfKey;
    this.now = options.now;
    this.staleMs = options.staleMs ?? DEFAULT_STALE_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ROSTER_ENTRIES;
  }

  /**
   * The keys the relay says are in the swarm with us, replacing the last list: well-formed
   * keys other than ours, sorted, the first maxEntries − 1 of them. Entries of keys no longer
   * listed are forgotten. Returns the keys newly listed, whose entries are still to be read.
   */
  setMembers(keys: Iterable<string>): string[] {
    const listed = [...new Set(keys)].filter((key) => key !== this.selfKey && isRosterKey(key)).sort();
    const members = new Set(listed.slice(0, this.maxEntries - 1));
    const added = [...members].filter((key) => !this.members.has(key));
    this.members = members;
    for (const key of this.shown.keys()) if (!members.has(key)) this.shown.delete(key);
    return added;
  }

  isMember(key: unknown): key is string {
    return typeof key === 'string' && this.members.has(key);
  }

  /**
   * Checks the values found under `keys` (read by `readValue` now, so a key changed many times
   * while a check was under way is read once) and keeps each that is newer than the one shown.
   * Resolves to whether the roster changed. Never rejects, whatever the values are.
   */
  async check(keys: Iterable<string>, readValue: (key: string) => unknown): Promise<boolean> {
    const now = this.now();
    const candidates: SignedRead[] = [];
    for (const key of keys) {
      if (!this.isMember(key)) continue;
      // The cheap refusals first: a malformed, stale or older entry costs no signature check.
      const read = readSigned(key, readValue(key));
      if (read && this.isNewer(key, read.entry, now)) candidates.push(read);
    }
    const verified = await Promise.all(
      candidates.map(async (read) => ((await verifies(this.runId, read)) ? read : null)),
    );
    let changed = false;
    // Members and the clock may have moved while the signatures were checked.
    for (const read of verified)
      if (read && this.isMember(read.key) && this.isNewer(read.key, read.entry, this.now())) {
        this.shown.set(read.key, read.entry);
        changed = true;
      }
    return changed;
  }

  /**
   * The rows to show: `self` (our own entry, as we last wrote it) and every member's newest
   * entry that is fresh and not a farewell, sorted by key so rows stay put as values change.
   * Never more than maxEntries, ours always among them.
   */
  rows(self: PeerEntry): PeerMetrics[] {
    const now = this.now();
    const rows: PeerMetrics[] = [{ key: this.selfKey, ...self }];
    for (const [key, entry] of this.shown)
      if (entry.phase !== 'left' && isFresh(entry.updatedAt, now, this.staleMs)) rows.push({ key, ...entry });
    rows.sort(byKey);
    // Members are capped below maxEntries already; this keeps the promise whatever changes.
    if (rows.length <= this.maxEntries) return rows;
    const others = rows.filter((row) => row.key !== this.selfKey).slice(0, this.maxEntries - 1);
    return [{ key: this.selfKey, ...self }, ...others].sort(byKey);
  }

  /** Whether `entry` is fresh and later than the one shown for `key` (or none is, or it is stale). */
  private isNewer(key: string, entry: PeerEntry, now: number): boolean {
    if (!isFresh(entry.updatedAt, now, this.staleMs)) return false;
    const shown = this.shown.get(key);
    // A stale entry is forgotten: a writer whose clock was set back is shown again once its
    // old entries have aged out, and anything older than the stale one is stale itself.
    return !shown || !isFresh(shown.updatedAt, now, this.staleMs) || entry.updatedAt > shown.updatedAt;
  }
}
