// A volunteer that speaks the real /swarm protocol (real Ed25519 keys, real signatures, the
// real SwarmClient over a real WebSocket) but does no training: its "frame" and "weights" are
// hashes derived from the round, so every honest scripted peer lands on the same model hash
// the way real peers do after summing the same set. The relay cannot tell the difference —
// it never sees weights — which is what makes this a fair test of the relay's coordination.
// Knobs make it misbehave: go silent at a phase, claim to hold nothing, report a wrong hash.

import { WebSocket } from 'ws';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../web/src/peer/identity.ts';
import {
  SwarmClient as Client,
  type SwarmClient,
  type SwarmSocket,
} from '../../web/src/peer/swarm-client.ts';

export interface ScriptedBehaviour {
  /** Stop answering (stay connected) once this message arrives. */
  readonly silentAt?: 'assignment' | 'decision';
  /** Claim to hold no one else's frame. */
  readonly deaf?: boolean;
  /** Report a wrong model hash. */
  readonly liar?: boolean;
  /** Reported training speed (tokens/s). */
  readonly tokensPerSec?: number;
  /** Milliseconds between the assignment and the manifest. */
  readonly trainMs?: number;
}

export interface ScriptedVolunteer {
  readonly identity: PeerIdentity;
  readonly client: SwarmClient;
  readonly receipts: unknown[];
  readonly messages: RelayMessage[];
  /** Round and hash this peer holds. */
  readonly held: { round: number; hash: string | null };
  /** Resolves when this peer has seen `count` commits. */
  commits(count: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export const wsFactory = (url: string) => new WebSocket(url) as unknown as SwarmSocket;

const hashText = (text: string) => sha256Hex(new TextEncoder().encode(text));

export const frameHashOf = (peer: string, round: number) => hashText(`frame|${peer}|${round}`);

export async function startScriptedVolunteer(
  relayUrl: string,
  name: string,
  behaviour: ScriptedBehaviour = {},
  identity?: PeerIdentity,
): Promise<ScriptedVolunteer> {
  const me = identity ?? (await identityFromKeyPair(await generateKeyPair()));
  const client = await Client.connect({
    url: `${relayUrl.replace(/^http/, 'ws')}/swarm`,
    identity: me,
    name,
    platform: 'node',
    socket: wsFactory,
  });
  const receipts: unknown[] = [];
  const messages: RelayMessage[] = [];
  const held = { round: -2, hash: null as string | null };
  let commitCount = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  let silent = false;
  let group: string[] = [];

  client.on((message) => {
    messages.push(message);
    if (silent) return;
    void handle(message).catch(() => {
      // The socket closed under an async reply: the test looks at what arrived.
    });
  });

  async function handle(message: RelayMessage): Promise<void> {
    switch (message.type) {
      case 'resync':
        held.round = message.round;
        held.hash = message.modelHash;
        client.ready(held.round, held.hash);
        return;
      case 'assignment': {
        if (behaviour.silentAt === 'assignment') {
          silent = true;
          return;
        }
        group = message.group.map((m) => m.peer);
        if (behaviour.trainMs) await new Promise((r) => setTimeout(r, behaviour.trainMs));
        const holds = behaviour.deaf
          ? []
          : await Promise.all(
              group
                .filter((p) => p !== me.publicKey)
                .map(async (peer) => ({ peer, frameHash: await frameHashOf(peer, message.round) })),
            );
        await client.manifest({
          round: message.round,
          frameHash: await frameHashOf(me.publicKey, message.round),
          frameBytes: 1000,
          holds,
          trainLoss: 3 - message.round * 0.01,
        });
        return;
      }
      case 'decision': {
        if (behaviour.silentAt === 'decision') {
          silent = true;
          return;
        }
        const counted = message.counted.map((c) => `${c.peer}:${c.frameHash}:${c.tokens}`).join(',');
        const hash = behaviour.liar
          ? await hashText(`lie|${me.publicKey}|${message.round}`)
          : await hashText(`model|${held.hash}|${message.round}|${counted}`);
        pendingHash = { round: message.round, hash };
        await client.modelHash(message.round, hash);
        return;
      }
      case 'commit':
        if (pendingHash?.round === message.round) {
          held.round = message.round;
          held.hash = message.modelHash;
        }
        commitCount++;
        for (const w of waiters.filter((w) => commitCount >= w.count)) w.resolve();
        client.ready(held.round, held.hash);
        return;
      case 'round-aborted':
        client.ready(held.round, held.hash);
        return;
      case 'receipt':
        receipts.push(message.receipt);
        return;
      default:
        return;
    }
  }
  let pendingHash: { round: number; hash: string } | null = null;

  client.capabilities({
    adapter: { vendor: 'test', architecture: 'scripted', description: name, isSoftware: true },
    maxBufferBytes: 1 << 28,
    memoryBytes: 1 << 30,
    tokensPerSec: behaviour.tokensPerSec ?? 1000,
    uplinkBytesPerSec: 1e7,
    downlinkBytesPerSec: 1e7,
  });
  client.ready(-1, null); // "I hold nothing": the relay answers with what to sync to

  return {
    identity: me,
    client,
    receipts,
    messages,
    held,
    commits(count, timeoutMs = 30_000) {
      if (commitCount >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: ${commitCount} of ${count} commits within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () => client.close(),
  };
}
