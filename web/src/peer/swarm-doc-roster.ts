// How a reader turns the swarm document's `peers` map into a roster: every entry checked
// against its schema (protocol/swarm-doc-entry.ts), stale ones dropped. Any peer in the room
// can write any key of a Yjs map with any value, so the entries are untrusted input:
// `parseRosterEntry` and `readRoster` never throw. They check shape only: an entry under a key
// says nothing about who wrote it, and its numbers are that writer's own claim.
import * as v from 'valibot';
import { type PeerEntry, PeerEntrySchema } from '../../../protocol/swarm-doc-entry.ts';
import { isPeerKey } from './mesh-signals.ts';

/** A raw Ed25519 key in base64url is 43 characters; anything longer is not looked at. */
const MAX_KEY_LENGTH = 64;
/** An entry is dropped once its `updatedAt` is this far from the reader's clock. */
export const DEFAULT_STALE_MS = 60_000;
/** Most entries a roster lists: a hostile peer can add keys without end; a page cannot show them. */
export const DEFAULT_MAX_ROSTER_ENTRIES = 1_024;

/** One roster row: an entry and the key it was found under. */
export interface PeerMetrics extends PeerEntry {
  /** The map key: a well-formed public key, not proof that its owner wrote the entry. */
  readonly key: string;
}

/** Whether `key` is what a `peers` map key must be: a canonical base64url Ed25519 public key. */
export function isRosterKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= MAX_KEY_LENGTH && isPeerKey(key);
}

/** A checked copy of `value` found under `key`, or null for anything malformed. Never throws. */
export function parseRosterEntry(key: unknown, value: unknown): PeerMetrics | null {
  if (!isRosterKey(key)) return null;
  const result = v.safeParse(PeerEntrySchema, value, { abortEarly: true });
  return result.success ? { key, ...result.output } : null;
}

/**
 * Whether an entry written at `updatedAt` (the writer's clock) is live at `now` (ours). An
 * entry from the future by more than the window counts as stale too: a clock that far off is
 * as wrong as one that far behind, and it must not keep an entry alive for ever.
 */
export function isFresh(updatedAt: number, now: number, staleMs: number): boolean {
  return Math.abs(now - updatedAt) <= staleMs;
}

export interface RosterOptions {
  /** The reader's wall clock in ms since the epoch. */
  readonly now: number;
  readonly staleMs?: number;
  readonly maxEntries?: number;
}

/**
 * The well-formed, fresh entries of a `peers` map, sorted by key (so rows stay put as values
 * change), at most `maxEntries` of them. Never throws, whatever the map holds.
 */
export function readRoster(
  entries: Iterable<readonly [unknown, unknown]>,
  options: RosterOptions,
): PeerMetrics[] {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const roster: PeerMetrics[] = [];
  for (const [key, value] of entries) {
    const entry = parseRosterEntry(key, value);
    if (entry && isFresh(entry.updatedAt, options.now, staleMs)) roster.push(entry);
  }
  roster.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return roster.slice(0, options.maxEntries ?? DEFAULT_MAX_ROSTER_ENTRIES);
}
