// One swarm-document peer for test/e2e/swarm-doc.test.ts, driven from Node through
// window.swarmDocPage. start() makes a SwarmDoc over y-webrtc as the volunteer page does, with
// a fresh Ed25519 identity, and draws the page's own swarm table. attack() instead joins the
// room as a hostile client would: a bare y-webrtc provider and Y.Doc, writing whatever it likes
// into the `peers` map, signed with its own keys or not at all.
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import { encodeBase64url } from '../../../../protocol/base64url.ts';
import { encodeEntryBody, type PeerEntry, type SignedEntry } from '../../../../protocol/swarm-doc-entry.ts';
import { swarmEntryMessage } from '../../../../protocol/swarm-signing.ts';
import {
  generateKeyPair,
  identityFromKeyPair,
  type PeerIdentity,
} from '../../../../web/src/peer/identity.ts';
import {
  type MetricsUpdate,
  PEERS_MAP,
  SwarmDoc,
  type SwarmDocProviderOptions,
  swarmRoom,
} from '../../../../web/src/peer/swarm-doc.ts';
import type { PeerMetrics } from '../../../../web/src/peer/swarm-doc-roster.ts';
import { type SwarmTable, showSwarm } from '../../../../web/src/volunteer/swarm-table.ts';

let swarm: SwarmDoc | undefined;
let table: SwarmTable | undefined;
let provider: WebrtcProvider | undefined;
let doc: Y.Doc | undefined;
let runId = '';
let changes = 0;
const FLOOD_BATCH = 100;
/** The attacker's own keys: the first is the one the relay lists as a member, if any. */
const attackerKeys: PeerIdentity[] = [];

class KeepingProvider extends WebrtcProvider {
  constructor(roomName: string, ydoc: Y.Doc, options: SwarmDocProviderOptions) {
    super(roomName, ydoc, options);
    provider = this;
    doc = ydoc;
  }
}

function started(): SwarmDoc {
  if (!swarm) throw new Error('call start() first');
  return swarm;
}

const newIdentity = async () => identityFromKeyPair(await generateKeyPair());

/** Any peer's fields, stamped now. */
const fields = (update: Partial<PeerEntry>): PeerEntry => ({
  name: 'mallory',
  round: 1,
  phase: 'training',
  loss: 0.01,
  tokensPerSec: 1e9,
  bytesSent: 0,
  bytesReceived: 0,
  updatedAt: Date.now(),
  ...update,
});

/** `body` signed by `signer` as if it were the entry of `key`. */
async function signAs(signer: PeerIdentity, key: string, body: string): Promise<SignedEntry> {
  return { body, signature: await signer.sign(swarmEntryMessage(runId, key, body)) };
}

/** What the test drives and reads through page.evaluate. */
const api = {
  /** Joins as an honest volunteer named `name`; resolves to its public key. */
  async start(run: string, name: string, signalingUrl: string): Promise<string> {
    runId = run;
    const identity = await newIdentity();
    swarm = new SwarmDoc({
      runId,
      identity,
      name,
      signalingUrl,
      // Loopback needs no STUN, and there is no network to reach one.
      iceServers: [],
      WebrtcProvider: KeepingProvider,
    });
    swarm.onChange(() => {
      changes++;
    });
    table = showSwarm(document.querySelector('#swarm') as HTMLTableElement, swarm, identity.publicKey);
    return identity.publicKey;
  },
  /** Plays the relay's list of members (the volunteer page takes it from assignments). */
  setMembers(keys: string[]): void {
    started().setMembers(keys);
  },
  publish(update: MetricsUpdate): void {
    started().publish(update);
  },
  roster(): PeerMetrics[] {
    return started().roster();
  },
  settled(): Promise<void> {
    return started().settled();
  },
  /** Plays the relay's leaderboard: credits per key, as the volunteer page fetches them. */
  showCredits(credits: [string, number][]): void {
    table?.showCredits(new Map(credits));
  },
  /** The swarm table as the person sees it: one array of cell texts per row. */
  table(): string[][] {
    return [...document.querySelectorAll('#swarm tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
    );
  },
  changes(): number {
    return changes;
  },
  destroy(): Promise<void> {
    return started().destroy();
  },
  /** Peers connected over WebRTC (not BroadcastChannel, which two browsers do not share). */
  webrtcPeers(): number {
    return [...(provider?.room?.webrtcConns.values() ?? [])].filter((conn) => conn.connected).length;
  },
  /** Every key in the map, checked or not. */
  rawKeys(): string[] {
    return [...(doc?.getMap(PEERS_MAP).keys() ?? [])];
  },
  /** The value under `key`, checked or not (an attacker copies it to replay it later). */
  rawValue(key: string): unknown {
    return doc?.getMap(PEERS_MAP).get(key);
  },

  /** Joins run `run`'s room as a hostile client with `keys` identities of its own; resolves to their keys. */
  async attack(run: string, signalingUrl: string, keys: number): Promise<string[]> {
    runId = run;
    doc = new Y.Doc();
    provider = new WebrtcProvider(swarmRoom(run), doc, {
      signaling: [signalingUrl],
      peerOpts: { config: { iceServers: [] } },
    });
    for (let i = 0; i < keys; i++) attackerKeys.push(await newIdentity());
    return attackerKeys.map((identity) => identity.publicKey);
  },
  /** Writes `value` under `key`, as any peer in the room can. */
  writeRaw(key: string, value: unknown): void {
    doc?.getMap(PEERS_MAP).set(key, value);
  },
  /** Attacker key `signer` signs `update` (stamped now) as the entry of `key` (its own by default). */
  async forge(signer: number, update: Partial<PeerEntry>, key?: string): Promise<SignedEntry> {
    const identity = attackerKeys[signer] as PeerIdentity;
    return signAs(identity, key ?? identity.publicKey, encodeEntryBody(fields(update)));
  },
  /** Attacker key `signer` signs an entry text of `length` characters under its own key. */
  async forgeOversized(signer: number, length: number): Promise<SignedEntry> {
    const identity = attackerKeys[signer] as PeerIdentity;
    const body = encodeEntryBody(fields({}));
    return signAs(identity, identity.publicKey, `${body.slice(0, -1)},"pad":"${'x'.repeat(length)}"}`);
  },
  /** `count` entries under fresh random keys, each signed by the key it sits under. */
  async flood(count: number): Promise<string[]> {
    const signer = await newIdentity();
    const keys: string[] = [];
    const map = doc?.getMap(PEERS_MAP);
    const values: [string, SignedEntry][] = [];
    for (let i = 0; i < count; i++) {
      const key = i === 0 ? signer.publicKey : randomKey();
      values.push([key, await signAs(signer, key, encodeEntryBody(fields({ name: `sybil ${i}` })))]);
      keys.push(key);
    }
    // A hundred per transaction (about 40 KB on the wire): Chromium refuses a data-channel
    // message above 256 KiB, which would cut the link instead of delivering the flood.
    for (let at = 0; at < values.length; at += FLOOD_BATCH)
      doc?.transact(() => {
        for (const [key, value] of values.slice(at, at + FLOOD_BATCH)) map?.set(key, value);
      });
    return keys;
  },
};

/** 32 random bytes as a base64url key: well-formed, owned by nobody here. */
const randomKey = () => encodeBase64url(crypto.getRandomValues(new Uint8Array(32)));

Object.assign(window, { swarmDocPage: api });
export type SwarmDocPageApi = typeof api;
const status = document.querySelector('#status');
if (status) status.textContent = 'ready';
