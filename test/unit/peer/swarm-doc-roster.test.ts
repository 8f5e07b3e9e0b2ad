// The swarm document without a browser. First the roster's check of what peers wrote: an
// entry is shown only if a member the relay listed signed it for this run, it is well-formed,
// within its size caps, fresh, and newer than what is shown; forged, moved, replayed, oversized
// and non-member entries (1,100 of them at once) are not, and nothing throws. Then SwarmDoc
// itself over an in-memory provider that joins Y.Docs directly: signed writes, publish merging
// and throttling, the heartbeat, the farewell, and errors with codes.
// test/e2e/swarm-doc.test.ts runs it over y-webrtc through the relay's /signal.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import {
  encodeEntryBody,
  MAX_ENTRY_BODY_LENGTH,
  type PeerEntry,
  type SignedEntry,
} from '../../../protocol/swarm-doc-entry.ts';
import { MAX_NAME_LENGTH } from '../../../protocol/swarm-messages.ts';
import { swarmEntryMessage } from '../../../protocol/swarm-signing.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import {
  PEERS_MAP,
  SwarmDoc,
  type SwarmDocProvider,
  type SwarmDocProviderOptions,
  swarmRoom,
} from '../../../web/src/peer/swarm-doc.ts';
import { SwarmDocError } from '../../../web/src/peer/swarm-doc-errors.ts';
import {
  DEFAULT_MAX_ROSTER_ENTRIES,
  isFresh,
  SwarmRoster,
  verifyRosterEntry,
} from '../../../web/src/peer/swarm-doc-roster.ts';

const NOW = 1_700_000_000_000;
const RUN = 'run-1';

const newIdentity = async () => identityFromKeyPair(await generateKeyPair());
const [ada, bob, cy, mallory] = await Promise.all([
  newIdentity(),
  newIdentity(),
  newIdentity(),
  newIdentity(),
]);
if (!ada || !bob || !cy || !mallory) throw new Error('four identities expected');

const entry: PeerEntry = {
  name: 'ada',
  round: 3,
  phase: 'training',
  loss: 4.2,
  tokensPerSec: 1500,
  bytesSent: 10,
  bytesReceived: 20,
  updatedAt: NOW,
};

/** What `signer` stores for `fields` under `key` (its own key unless a test moves it). */
async function signed(
  signer: PeerIdentity,
  fields: Partial<PeerEntry> = {},
  options: { runId?: string; key?: string; body?: string } = {},
): Promise<SignedEntry> {
  const body = options.body ?? encodeEntryBody({ ...entry, ...fields });
  const key = options.key ?? signer.publicKey;
  return { body, signature: await signer.sign(swarmEntryMessage(options.runId ?? RUN, key, body)) };
}

describe('an entry', () => {
  it('is read when its key signed it for this run, extra fields dropped', async () => {
    const value = await signed(ada);
    expect(await verifyRosterEntry(RUN, ada.publicKey, value)).toEqual(entry);
    expect(await verifyRosterEntry(RUN, ada.publicKey, { ...value, extra: 'x'.repeat(100) })).toEqual(entry);
    const body = JSON.stringify({ ...entry, credits: 1e9, loss: null });
    expect(await verifyRosterEntry(RUN, ada.publicKey, await signed(ada, {}, { body }))).toEqual({
      ...entry,
      loss: null,
    }); // credits are no field of an entry: whatever a peer claims there is not read
  });

  it('is refused when forged, moved to another key or run, tampered with, or oversized', async () => {
    const honest = await signed(bob);
    const refused: [string, string, unknown][] = [
      // Mallory's signature over Bob's key: the row Bob would have.
      ['forged', bob.publicKey, await signed(mallory, { name: 'bob' }, { key: bob.publicKey })],
      // Mallory's genuine entry, put under Bob's key.
      ['moved', bob.publicKey, await signed(mallory)],
      ['other run', bob.publicKey, await signed(bob, {}, { runId: 'run-2' })],
      ['tampered', bob.publicKey, { ...honest, body: honest.body.replace('4.2', '0.1') }],
      ['no signature', bob.publicKey, { body: honest.body }],
      ['garbage signature', bob.publicKey, { ...honest, signature: 'A'.repeat(86) }],
      [
        'oversized',
        bob.publicKey,
        await signed(
          bob,
          {},
          { body: `${honest.body.slice(0, -1)},"pad":"${'x'.repeat(MAX_ENTRY_BODY_LENGTH)}"}` },
        ),
      ],
      ['name too long', bob.publicKey, await signed(bob, { name: 'x'.repeat(MAX_NAME_LENGTH + 1) })],
      ['bidi name', bob.publicKey, await signed(bob, { name: 'bob\u202egnp.exe' })],
      ['not JSON', bob.publicKey, await signed(bob, {}, { body: '{"name":' })],
      ['bad key', 'bogus', honest],
    ];
    for (const [why, key, value] of refused) expect(await verifyRosterEntry(RUN, key, value), why).toBeNull();
    expect(await verifyRosterEntry(RUN, bob.publicKey, honest)).not.toBeNull();
  });

  it('is refused when malformed in any way', async () => {
    const good = await signed(ada);
    const bad = (fields: Record<string, unknown>) =>
      signed(ada, {}, { body: JSON.stringify({ ...entry, ...fields }) });
    const values: unknown[] = [
      null,
      undefined,
      'ada',
      12,
      [good],
      new Uint8Array(8),
      {},
      { ...good, body: 42 },
      await bad({ name: 42 }),
      await bad({ round: -1 }),
      await bad({ round: 1.5 }),
      await bad({ round: 2 ** 60 }),
      await bad({ phase: 'mining' }),
      await bad({ loss: 'NaN' }),
      await bad({ loss: undefined }),
      // JSON.parse reads 1e999 as Infinity.
      await signed(ada, {}, { body: encodeEntryBody(entry).replace(':1500,', ':1e999,') }),
      await bad({ bytesSent: -1 }),
      await bad({ bytesReceived: '20' }),
      await bad({ updatedAt: 1.5 }),
    ];
    for (const value of values) expect(await verifyRosterEntry(RUN, ada.publicKey, value)).toBeNull();
  });

  it('never throws, whatever a peer wrote', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }),
        async (value) => {
          await verifyRosterEntry(RUN, ada.publicKey, value);
          await verifyRosterEntry(RUN, ada.publicKey, { body: value, signature: value });
        },
      ),
      { numRuns: 200 },
    );
    // lib0 decodes a remote object key by key (`obj[key] = ...`), so a peer can send one whose
    // `__proto__` is set: its inherited fields are checked like its own.
    const inherited = Object.setPrototypeOf({}, await signed(ada));
    expect(await verifyRosterEntry(RUN, ada.publicKey, inherited)).toEqual(entry);
    const trap = Object.setPrototypeOf({}, { body: { toString: () => encodeEntryBody(entry) } });
    expect(await verifyRosterEntry(RUN, ada.publicKey, trap)).toBeNull();
  });

  it('is live within the stale window either side of now', () => {
    expect(isFresh(NOW - 60_000, NOW, 60_000)).toBe(true);
    expect(isFresh(NOW - 60_001, NOW, 60_000)).toBe(false);
    expect(isFresh(NOW + 60_000, NOW, 60_000)).toBe(true);
    expect(isFresh(NOW + 60_001, NOW, 60_000)).toBe(false); // a clock far ahead cannot pin an entry
  });
});

describe('the roster', () => {
  let now: number;
  let map: Map<string, unknown>;
  let roster: SwarmRoster;
  const self: PeerEntry = { ...entry, name: 'me' };
  const check = (...keys: string[]) =>
    roster.check(keys.length > 0 ? keys : map.keys(), (key) => map.get(key));
  const shown = () => roster.rows(self).map((row) => [row.key, row.name]);

  beforeEach(() => {
    now = NOW;
    map = new Map();
    roster = new SwarmRoster({ runId: RUN, selfKey: ada.publicKey, now: () => now });
  });

  it('shows our row always, and members the relay listed once they signed', async () => {
    expect(shown()).toEqual([[ada.publicKey, 'me']]);
    map.set(bob.publicKey, await signed(bob, { name: 'bob' }));
    map.set(cy.publicKey, await signed(cy, { name: 'cy' }));
    expect(await check()).toBe(false); // nobody is listed yet: nothing is even verified
    expect(roster.setMembers([bob.publicKey, cy.publicKey, ada.publicKey, 'bogus'])).toEqual(
      [bob.publicKey, cy.publicKey].sort(),
    );
    expect(await check()).toBe(true);
    expect(new Set(shown())).toEqual(
      new Set([
        [ada.publicKey, 'me'],
        [bob.publicKey, 'bob'],
        [cy.publicKey, 'cy'],
      ]),
    );
    // Cy is not in the next round's group: her row goes, whatever she keeps writing.
    roster.setMembers([bob.publicKey]);
    map.set(cy.publicKey, await signed(cy, { name: 'cy', updatedAt: NOW + 1 }));
    expect(await check()).toBe(false);
    expect(shown().map(([key]) => key)).not.toContain(cy.publicKey);
    // Our own key in the map is never read: our row is our own entry.
    map.set(ada.publicKey, await signed(ada, { name: 'not me', updatedAt: NOW + 5 }));
    roster.setMembers([bob.publicKey, ada.publicKey]);
    await check();
    expect(shown()).toContainEqual([ada.publicKey, 'me']);
  });

  it('keeps the newest entry it verified: forgeries, replays, junk and deletions change nothing', async () => {
    roster.setMembers([bob.publicKey, mallory.publicKey]);
    const old = await signed(bob, { name: 'bob', round: 1, updatedAt: NOW - 2_000 });
    map.set(bob.publicKey, old);
    await check();
    map.set(bob.publicKey, await signed(bob, { name: 'bob', round: 2, updatedAt: NOW - 1_000 }));
    expect(await check()).toBe(true);
    const bobRow = () => roster.rows(self).find((row) => row.key === bob.publicKey);
    expect(bobRow()?.round).toBe(2);
    for (const attack of [
      old, // Bob's own older entry, replayed over his newer one
      await signed(mallory, { name: 'bob', round: 99, updatedAt: NOW }, { key: bob.publicKey }),
      await signed(mallory, { name: 'mallory', updatedAt: NOW }),
      'junk',
      undefined, // deleted
    ]) {
      map.set(bob.publicKey, attack);
      expect(await check()).toBe(false);
      expect(bobRow()).toMatchObject({ name: 'bob', round: 2 });
    }
    // Bob's next entry is shown; one signed at the same time as the shown one is not newer.
    map.set(bob.publicKey, await signed(bob, { name: 'bob', round: 3, updatedAt: NOW - 1_000 }));
    expect(await check()).toBe(false);
    map.set(bob.publicKey, await signed(bob, { name: 'bob', round: 3, updatedAt: NOW }));
    expect(await check()).toBe(true);
    expect(bobRow()?.round).toBe(3);
  });

  it('drops a stale entry and a signed farewell, and refuses a stale one outright', async () => {
    roster.setMembers([bob.publicKey, cy.publicKey]);
    map.set(bob.publicKey, await signed(bob, { name: 'bob' }));
    map.set(cy.publicKey, await signed(cy, { name: 'cy', updatedAt: NOW - 61_000 }));
    await check();
    expect(shown().map(([key]) => key)).toEqual([ada.publicKey, bob.publicKey].sort());
    now += 60_001;
    expect(shown()).toEqual([[ada.publicKey, 'me']]);
    // Bob's clock was set back after a reload: once his old entry is stale, his new one counts.
    map.set(bob.publicKey, await signed(bob, { name: 'bob again', updatedAt: NOW + 30_000 }));
    expect(await check()).toBe(true);
    map.set(bob.publicKey, await signed(bob, { phase: 'left', updatedAt: NOW + 30_001 }));
    expect(await check()).toBe(true);
    expect(shown()).toEqual([[ada.publicKey, 'me']]);
  });

  it('ignores 1,100 fake entries from keys the relay did not list, without verifying one', async () => {
    roster.setMembers([bob.publicKey]);
    map.set(bob.publicKey, await signed(bob, { name: 'bob' }));
    const fakes = await Promise.all(
      Array.from({ length: 1_100 }, async (_, i) => {
        const fake = i % 100 === 0 ? await newIdentity() : mallory;
        const key = fake === mallory ? encodeBase64url(new Uint8Array(32).fill(i % 251)) : fake.publicKey;
        return [key, await signed(fake, { name: `fake ${i}` }, { key })] as const;
      }),
    );
    for (const [key, value] of fakes) map.set(key, value);
    const verify = vi.spyOn(crypto.subtle, 'verify');
    try {
      await check();
      expect(verify).toHaveBeenCalledTimes(1); // Bob's
    } finally {
      verify.mockRestore();
    }
    expect(shown()).toEqual(
      [
        [ada.publicKey, 'me'],
        [bob.publicKey, 'bob'],
      ].sort(),
    );
  });

  it('shows at most its bound of rows, ours always among them, when the relay lists 1,100', async () => {
    const sybils = await Promise.all(Array.from({ length: 1_100 }, () => newIdentity()));
    // Our key sorts after (almost) every other, so a cut of the first rows by key would drop us.
    const selfKey = `${'z'.repeat(42)}w`;
    roster = new SwarmRoster({ runId: RUN, selfKey, now: () => now });
    roster.setMembers(sybils.map((sybil) => sybil.publicKey));
    for (const sybil of sybils) map.set(sybil.publicKey, await signed(sybil, { name: 'sybil' }));
    await check();
    const rows = roster.rows(self);
    expect(rows).toHaveLength(DEFAULT_MAX_ROSTER_ENTRIES);
    expect(rows.filter((row) => row.key === selfKey)).toHaveLength(1);
    expect(new Set(rows.map((row) => row.key)).size).toBe(DEFAULT_MAX_ROSTER_ENTRIES);
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
  let docs: SwarmDoc[];
  const open = (identity: PeerIdentity, name: string, runId = RUN) => {
    const doc = new SwarmDoc({
      runId,
      identity,
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
    docs.push(doc);
    return doc;
  };
  /** Lets every doc finish its signing and checking (WebCrypto runs off the fake clock). */
  const settle = async () => {
    for (let pass = 0; pass < 3; pass++) for (const doc of docs) await doc.settled();
  };
  const everyone = [ada, bob, cy].map((identity) => identity.publicKey);
  const keys = (doc: SwarmDoc) => doc.roster().map((row) => row.key);

  beforeEach(() => {
    providers = [];
    docs = [];
    MemoryProvider.rooms.clear();
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens the run room on the signaling URL, and lists the members the relay named', async () => {
    const a = open(ada, 'ada');
    const b = open(bob, 'bob');
    await settle();
    expect(a.room).toBe(swarmRoom(RUN));
    expect(providers[0]?.options).toEqual({
      signaling: ['ws://127.0.0.1:1/signal'],
      peerOpts: { config: { iceServers: [{ urls: 'stun:127.0.0.1:3478' }] } },
    });
    expect(keys(a)).toEqual([ada.publicKey]); // no list from the relay yet: ourselves only
    for (const doc of [a, b]) doc.setMembers(everyone);
    await settle();
    const row = (key: string, name: string) => ({
      key,
      name,
      round: 0,
      phase: 'idle',
      loss: null,
      updatedAt: NOW,
    });
    const both = [row(ada.publicKey, 'ada'), row(bob.publicKey, 'bob')].sort((x, y) =>
      x.key < y.key ? -1 : 1,
    );
    for (const doc of [a, b]) {
      expect(doc.roster()).toHaveLength(2);
      expect(doc.roster()).toMatchObject(both);
    }
    const other = open(cy, 'cy', 'run-2');
    other.setMembers(everyone);
    await settle();
    expect(keys(other)).toEqual([cy.publicKey]);
  });

  it('signs every write, merges partial updates and writes at most once per second', async () => {
    const a = open(ada, 'ada');
    const b = open(bob, 'bob');
    b.setMembers(everyone);
    await settle();
    const seen = vi.fn();
    b.onChange(seen);
    vi.advanceTimersByTime(1_000);
    a.publish({ round: 1, phase: 'training', loss: undefined }); // a second after joining: written now
    await settle();
    const row = () => b.roster().find((r) => r.key === ada.publicKey);
    expect(row()).toMatchObject({ round: 1, phase: 'training', loss: null, updatedAt: NOW + 1_000 });
    // What Bob's doc holds under Ada's key is her signed entry, nothing more.
    const stored = providers[1]?.doc.getMap(PEERS_MAP).get(ada.publicKey);
    const { key: _key, ...fields } = row() ?? { key: '' };
    expect(await verifyRosterEntry(RUN, ada.publicKey, stored)).toEqual(fields);
    vi.advanceTimersByTime(100);
    a.publish({ loss: 3.5 });
    a.publish({ name: 'ada l.' });
    await settle();
    expect(row()?.loss).toBeNull(); // held back until the interval is over
    expect(seen).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(900);
    await settle();
    expect(row()).toMatchObject({ name: 'ada l.', round: 1, loss: 3.5, updatedAt: NOW + 2_000 });
    expect(seen).toHaveBeenCalledTimes(2);
  });

  it('refuses metrics other peers would skip, keeping the entry as it was', () => {
    const a = open(ada, 'ada');
    vi.advanceTimersByTime(1_000);
    for (const update of [
      { loss: Number.NaN },
      { round: -1 },
      { name: 'x'.repeat(MAX_NAME_LENGTH + 1) },
      { name: 'tab\u0000' },
      { phase: 'left' as never },
    ])
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
    const bogus: PeerIdentity = { publicKey: 'bogus', sign: ada.sign };
    expect(code(() => open(bogus, 'ada'))).toBe('ERR_SWARM_DOC_BAD_KEY');
    expect(code(() => open(ada, 'ada', ''))).toBe('ERR_SWARM_DOC_BAD_RUN_ID');
    expect(code(() => open(ada, 'ada', 'r'.repeat(129)))).toBe('ERR_SWARM_DOC_BAD_RUN_ID');
    expect(code(() => open(ada, 'ada', 'run|1'))).toBe('ERR_SWARM_DOC_BAD_RUN_ID');
    expect(code(() => open(ada, 'x'.repeat(MAX_NAME_LENGTH + 1)))).toBe('ERR_SWARM_DOC_BAD_METRICS');
  });

  it('stays listed through heartbeats; a peer that vanished drops out after the stale window', async () => {
    const a = open(ada, 'ada');
    const b = open(bob, 'bob');
    a.setMembers(everyone);
    for (let minute = 0; minute < 5; minute++) {
      vi.advanceTimersByTime(60_000); // no publish at all: heartbeats keep both entries fresh
      await settle();
    }
    expect(keys(a)).toEqual([ada.publicKey, bob.publicKey].sort());
    providers[1]?.destroy(); // b's tab crashes: no destroy(), no farewell
    vi.advanceTimersByTime(40_000);
    await settle();
    expect(keys(a)).toEqual([ada.publicKey, bob.publicKey].sort());
    vi.advanceTimersByTime(30_000);
    expect(keys(a)).toEqual([ada.publicKey]);
    void b.destroy();
  });

  it('shows nothing a hostile peer forged, and keeps the honest rows through its junk', async () => {
    const a = open(ada, 'ada');
    const b = open(bob, 'bob');
    a.setMembers([...everyone, mallory.publicKey]);
    await settle();
    const raw = new Y.Doc();
    new MemoryProvider(swarmRoom(RUN), raw, { signaling: [], peerOpts: { config: { iceServers: [] } } });
    const peers = raw.getMap<unknown>(PEERS_MAP);
    const bobsOwn = peers.get(bob.publicKey);
    b.publish({ round: 2 });
    vi.advanceTimersByTime(1_000);
    await settle();
    peers.set('bogus', await signed(mallory));
    peers.set(
      bob.publicKey,
      await signed(mallory, { name: 'bob', round: 99, updatedAt: NOW + 2_000 }, { key: bob.publicKey }),
    );
    peers.set(bob.publicKey, bobsOwn); // Bob's round-0 entry, replayed
    peers.set(cy.publicKey, await signed(cy, { name: 'cy, not here' })); // a member with no SwarmDoc, fine
    peers.set(mallory.publicKey, await signed(mallory, {}, { body: `{"name":"${'m'.repeat(1_000_000)}"}` }));
    peers.set(ada.publicKey, 'not an entry');
    await settle();
    expect(a.roster().map((row) => [row.key, row.name, row.round])).toEqual(
      [
        [ada.publicKey, 'ada', 0],
        [bob.publicKey, 'bob', 2],
        [cy.publicKey, 'cy, not here', 3],
      ].sort(),
    );
    void b.destroy();
  });

  it('calls change handlers until unsubscribed', async () => {
    const a = open(ada, 'ada');
    a.setMembers(everyone);
    const handler = vi.fn();
    const unsubscribe = a.onChange(handler);
    open(bob, 'bob');
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
    unsubscribe();
    open(cy, 'cy');
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('signs its farewell on destroy, tears down after the grace, and is safe twice', async () => {
    const a = open(ada, 'ada');
    const b = open(bob, 'bob');
    a.setMembers(everyone);
    await settle();
    expect(keys(a)).toEqual([ada.publicKey, bob.publicKey].sort());
    const handler = vi.fn();
    a.onChange(handler);
    const destroyProvider = vi.spyOn(providers[1] as MemoryProvider, 'destroy');
    const first = b.destroy();
    expect(b.destroy()).toBe(first);
    expect(b.isDestroyed).toBe(true);
    await settle();
    expect(keys(a)).toEqual([ada.publicKey]);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(destroyProvider).not.toHaveBeenCalled(); // the farewell gets time to go out
    await vi.advanceTimersByTimeAsync(500);
    await first;
    expect(destroyProvider).toHaveBeenCalledTimes(1);
    expect(b.roster()).toEqual([]);
    expect(() => b.publish({ round: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_SWARM_DOC_DESTROYED' }),
    );
    expect(() => b.onChange(() => {})).toThrow(expect.objectContaining({ code: 'ERR_SWARM_DOC_DESTROYED' }));
    vi.advanceTimersByTime(120_000); // no heartbeat of b's brings its entry back
    await settle();
    expect(keys(a)).toEqual([ada.publicKey]);
  });
});
