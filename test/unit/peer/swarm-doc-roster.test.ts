// The swarm document without a browser: the roster's check of what peers wrote (shape,
// caps, finite numbers, staleness; never an exception), then SwarmDoc itself over an
// in-memory provider that joins Y.Docs directly: publish merging and throttling, the
// heartbeat, destroy, and errors with codes. test/e2e/swarm-doc.test.ts runs it over y-webrtc.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import { MAX_NAME_LENGTH } from '../../../protocol/swarm-messages.ts';
import {
  PEERS_MAP,
  SwarmDoc,
  type SwarmDocProvider,
  type SwarmDocProviderOptions,
  swarmRoom,
} from '../../../web/src/peer/swarm-doc.ts';
import { SwarmDocError } from '../../../web/src/peer/swarm-doc-errors.ts';
import { isFresh, parseRosterEntry, readRoster } from '../../../web/src/peer/swarm-doc-roster.ts';

const keyA = encodeBase64url(new Uint8Array(32).fill(1));
const keyB = encodeBase64url(new Uint8Array(32).fill(2));
const keyC = encodeBase64url(new Uint8Array(32).fill(3));
const NOW = 1_700_000_000_000;

const entry = {
  name: 'ada',
  round: 3,
  phase: 'training',
  loss: 4.2,
  tokensPerSec: 1500,
  bytesSent: 10,
  bytesReceived: 20,
  credits: 7.5,
  updatedAt: NOW,
};

describe('the roster check', () => {
  it('accepts a well-formed entry and drops fields it does not name', () => {
    expect(parseRosterEntry(keyA, { ...entry, extra: 'x'.repeat(100) })).toEqual({ key: keyA, ...entry });
    expect(parseRosterEntry(keyA, { ...entry, loss: null, phase: 'idle', round: 0 })?.loss).toBeNull();
  });

  it('skips malformed keys and values', () => {
    for (const key of [
      'bogus',
      '',
      `${keyA}A`,
      encodeBase64url(new Uint8Array(31)),
      'A'.repeat(1 << 21),
      42,
      null,
    ])
      expect(parseRosterEntry(key, entry)).toBeNull();
    const bad: unknown[] = [
      null,
      undefined,
      'ada',
      12,
      [entry],
      new Uint8Array(8),
      {},
      { ...entry, name: 'x'.repeat(MAX_NAME_LENGTH + 1) },
      { ...entry, name: 42 },
      { ...entry, round: -1 },
      { ...entry, round: 1.5 },
      { ...entry, round: 2 ** 60 },
      { ...entry, phase: 'mining' },
      { ...entry, loss: Number.NaN },
      { ...entry, loss: undefined },
      { ...entry, tokensPerSec: Number.POSITIVE_INFINITY },
      { ...entry, bytesSent: -1 },
      { ...entry, bytesReceived: '20' },
      { ...entry, credits: Number.NEGATIVE_INFINITY },
      { ...entry, updatedAt: Number.NaN },
      { ...entry, updatedAt: 10n },
    ];
    for (const value of bad) expect(parseRosterEntry(keyA, value)).toBeNull();
  });

  it('never throws, whatever a peer wrote', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }),
        (value) => {
          parseRosterEntry(keyA, value);
          readRoster([[keyA, value]], { now: NOW });
        },
      ),
    );
    // lib0 decodes a remote object key by key (`obj[key] = ...`), so a peer can send one whose
    // `__proto__` is set. Whatever fields it inherits are checked like its own, and what comes
    // out is a fresh plain object.
    const bad = Object.setPrototypeOf({}, { ...entry, name: { toString: () => 'ada' } });
    expect(parseRosterEntry(keyA, bad)).toBeNull();
    const inherited = Object.setPrototypeOf({}, entry);
    const copy = parseRosterEntry(keyA, inherited);
    expect(copy).toEqual({ key: keyA, ...entry });
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });

  it('keeps entries within the stale window either side of now', () => {
    expect(isFresh(NOW - 60_000, NOW, 60_000)).toBe(true);
    expect(isFresh(NOW - 60_001, NOW, 60_000)).toBe(false);
    expect(isFresh(NOW + 60_000, NOW, 60_000)).toBe(true);
    expect(isFresh(NOW + 60_001, NOW, 60_000)).toBe(false); // a clock far ahead cannot pin an entry
  });

  it('lists fresh, well-formed entries sorted by key, capped', () => {
    const entries: [unknown, unknown][] = [
      [keyC, entry],
      ['bogus', entry],
      [keyA, { ...entry, name: 'old', updatedAt: NOW - 61_000 }],
      [keyB, { ...entry, name: 'bob' }],
      [keyA, { ...entry, name: 'x'.repeat(10_000) }],
    ];
    expect(readRoster(entries, { now: NOW }).map((row) => row.key)).toEqual([keyB, keyC]);
    expect(readRoster(entries, { now: NOW + 30_000, staleMs: 10_000 })).toEqual([]);
    expect(readRoster(entries, { now: NOW, maxEntries: 1 }).map((row) => row.name)).toEqual(['bob']);
  });
});

/** Joins every Y.Doc opened on the same room, as y-webrtc does, minus the network. */
class MemoryProvider implements SwarmDocProvider {
  static readonly rooms = new Map<string, Set<MemoryProvider>>();
  readonly options: SwarmDocProviderOptions;
  private readonly room: Set<MemoryProvider>;

  constructor(
    roomName: string,
    readonly doc: Y.Doc,
    options: SwarmDocProviderOptions,
  ) {
    this.options = options;
    this.room = MemoryProvider.rooms.get(roomName) ?? new Set();
    MemoryProvider.rooms.set(roomName, this.room);
    for (const other of this.room) {
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(other.doc), other);
      Y.applyUpdate(other.doc, Y.encodeStateAsUpdate(doc), this);
    }
    this.room.add(this);
    doc.on('update', this.forward);
  }

  private readonly forward = (update: Uint8Array, origin: unknown): void => {
    if (origin instanceof MemoryProvider) return; // came from a peer: it has been sent on already
    for (const other of this.room) if (other !== this) Y.applyUpdate(other.doc, update, this);
  };

  /** Leaves without a word, like a tab that crashed. */
  destroy(): void {
    this.room.delete(this);
    this.doc.off('update', this.forward);
  }
}

describe('SwarmDoc', () => {
  let providers: MemoryProvider[];
  const open = (selfKey: string, name: string, runId = 'run-1') =>
    new SwarmDoc({
      runId,
      selfKey,
      name,
      signalingUrl: 'ws://127.0.0.1:1/signal',
      iceServers: [{ urls: 'stun:127.0.0.1:3478' }],
      WebrtcProvider: class extends MemoryProvider {
        constructor(roomName: string, doc: Y.Doc, options: SwarmDocProviderOptions) {
          super(roomName, doc, options);
          providers.push(this);
        }
      },
    });

  beforeEach(() => {
    providers = [];
    MemoryProvider.rooms.clear();
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens the run room on the signaling URL and lists both peers', () => {
    const a = open(keyA, 'ada');
    const b = open(keyB, 'bob');
    expect(a.room).toBe(swarmRoom('run-1'));
    expect(providers[0]?.options).toEqual({
      signaling: ['ws://127.0.0.1:1/signal'],
      peerOpts: { config: { iceServers: [{ urls: 'stun:127.0.0.1:3478' }] } },
    });
    for (const doc of [a, b])
      expect(doc.roster()).toEqual([
        {
          key: keyA,
          name: 'ada',
          round: 0,
          phase: 'idle',
          loss: null,
          tokensPerSec: 0,
          bytesSent: 0,
          bytesReceived: 0,
          credits: 0,
          updatedAt: NOW,
        },
        {
          key: keyB,
          name: 'bob',
          round: 0,
          phase: 'idle',
          loss: null,
          tokensPerSec: 0,
          bytesSent: 0,
          bytesReceived: 0,
          credits: 0,
          updatedAt: NOW,
        },
      ]);
    expect(
      open(keyC, 'cy', 'run-2')
        .roster()
        .map((row) => row.key),
    ).toEqual([keyC]);
  });

  it('merges partial updates and writes at most once per second', () => {
    const a = open(keyA, 'ada');
    const b = open(keyB, 'bob');
    const seen = vi.fn();
    b.onChange(seen);
    vi.advanceTimersByTime(1_000);
    a.publish({ round: 1, phase: 'training', loss: undefined }); // a second after joining: written now
    const row = () => b.roster().find((r) => r.key === keyA);
    expect(row()).toMatchObject({ round: 1, phase: 'training', loss: null, updatedAt: NOW + 1_000 });
    vi.advanceTimersByTime(100);
    a.publish({ loss: 3.5 });
    a.publish({ credits: 2, name: 'ada l.' });
    expect(row()?.loss).toBeNull(); // held back until the interval is over
    expect(seen).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(900);
    expect(row()).toMatchObject({ name: 'ada l.', round: 1, loss: 3.5, credits: 2, updatedAt: NOW + 2_000 });
    expect(seen).toHaveBeenCalledTimes(2);
  });

  it('refuses metrics other peers would skip, keeping the entry as it was', () => {
    const a = open(keyA, 'ada');
    vi.advanceTimersByTime(1_000);
    for (const update of [{ loss: Number.NaN }, { round: -1 }, { name: 'x'.repeat(MAX_NAME_LENGTH + 1) }])
      expect(() => a.publish(update)).toThrow(expect.objectContaining({ code: 'ERR_SWARM_DOC_BAD_METRICS' }));
    a.publish({ bytesSent: 5 });
    expect(a.roster()[0]).toMatchObject({ loss: null, round: 0, name: 'ada', bytesSent: 5 });
  });

  it('refuses a bad key, run id or name with a code', () => {
    const code = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error instanceof SwarmDocError ? error.code : 'not a SwarmDocError';
      }
      return 'no error';
    };
    expect(code(() => open('bogus', 'ada'))).toBe('ERR_SWARM_DOC_BAD_KEY');
    expect(code(() => open(keyA, 'ada', ''))).toBe('ERR_SWARM_DOC_BAD_RUN_ID');
    expect(code(() => open(keyA, 'ada', 'r'.repeat(129)))).toBe('ERR_SWARM_DOC_BAD_RUN_ID');
    expect(code(() => open(keyA, 'x'.repeat(MAX_NAME_LENGTH + 1)))).toBe('ERR_SWARM_DOC_BAD_METRICS');
  });

  it('stays listed through heartbeats; a peer that vanished drops out after the stale window', () => {
    const a = open(keyA, 'ada');
    const b = open(keyB, 'bob');
    vi.advanceTimersByTime(5 * 60_000); // no publish at all: heartbeats keep both entries fresh
    expect(a.roster().map((row) => row.key)).toEqual([keyA, keyB]);
    providers[1]?.destroy(); // b's tab crashes: no destroy(), no deletion
    vi.advanceTimersByTime(40_000);
    expect(a.roster().map((row) => row.key)).toEqual([keyA, keyB]);
    vi.advanceTimersByTime(30_000);
    expect(a.roster().map((row) => row.key)).toEqual([keyA]);
    void b.destroy();
  });

  it('shows what a hostile peer wrote only if well-formed, and puts back its own entry', () => {
    const a = open(keyA, 'ada');
    const b = open(keyB, 'bob');
    const raw = new Y.Doc();
    new MemoryProvider(swarmRoom('run-1'), raw, { signaling: [], peerOpts: { config: { iceServers: [] } } });
    const peers = raw.getMap<unknown>(PEERS_MAP);
    peers.set('bogus', entry);
    peers.set(keyC, { ...entry, name: 'x'.repeat(1_000_000) });
    peers.set(keyB, 'not an entry');
    expect(a.roster().map((row) => row.key)).toEqual([keyA]);
    vi.advanceTimersByTime(20_000); // b's heartbeat rewrites its entry
    expect(a.roster().map((row) => row.key)).toEqual([keyA, keyB]);
    void b.destroy();
  });

  it('calls change handlers until unsubscribed', () => {
    const a = open(keyA, 'ada');
    const handler = vi.fn();
    const unsubscribe = a.onChange(handler);
    open(keyB, 'bob');
    expect(handler).toHaveBeenCalledTimes(1);
    unsubscribe();
    open(keyC, 'cy');
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('deletes its entry on destroy, tears down after the grace, and is safe twice', async () => {
    const a = open(keyA, 'ada');
    const b = open(keyB, 'bob');
    const handler = vi.fn();
    a.onChange(handler);
    const destroyProvider = vi.spyOn(providers[1] as MemoryProvider, 'destroy');
    const first = b.destroy();
    expect(b.destroy()).toBe(first);
    expect(b.isDestroyed).toBe(true);
    expect(a.roster().map((row) => row.key)).toEqual([keyA]);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(destroyProvider).not.toHaveBeenCalled(); // the deletion gets time to go out
    await vi.advanceTimersByTimeAsync(500);
    await first;
    expect(destroyProvider).toHaveBeenCalledTimes(1);
    expect(b.roster()).toEqual([]);
    expect(() => b.publish({ round: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_SWARM_DOC_DESTROYED' }),
    );
    expect(() => b.onChange(() => {})).toThrow(expect.objectContaining({ code: 'ERR_SWARM_DOC_DESTROYED' }));
    vi.advanceTimersByTime(120_000); // no heartbeat of b's brings its entry back
    expect(a.roster().map((row) => row.key)).toEqual([keyA]);
  });
});
