// The round volunteer (web/src/peer/volunteer.ts) against a script: an engine whose training
// blocks until told to end, as a long round on a slow GPU does, and a relay whose messages the
// test delivers by hand and whose replies it records.
import { TrainingAbortedError } from '../../../kernels/round/training-aborted.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import type { RelayApi } from '../../../web/src/peer/relay-api.ts';
import type { SwarmClient } from '../../../web/src/peer/swarm-client.ts';
import { type FrameNetwork, Volunteer, type VolunteerEvent } from '../../../web/src/peer/volunteer.ts';
import { MemoryVolunteerStore } from '../../bench/scale/memory-store.ts';

export const HASH = 'a'.repeat(64);
export const ME = 'M'.repeat(43);

/** An engine whose training runs until abortTraining() or finish() is called. */
export function blockingEngine() {
  const calls: string[] = [];
  let stop: ((error?: Error) => void) | null = null;
  const engine = {
    stateHash: async () => HASH,
    exportLocalState: async () => new Uint8Array(4),
    train: (work: { round: number }) => {
      calls.push(`train ${work.round}`);
      return new Promise<{ tokens: number; meanLoss: number }>((resolve, reject) => {
        stop = (error) => (error ? reject(error) : resolve({ tokens: 8, meanLoss: 3 }));
      });
    },
    abortTraining: async () => {
      calls.push('abort');
      stop?.(new TrainingAbortedError());
    },
    contribute: async () => {
      calls.push('contribute');
      return new Uint8Array(16);
    },
    discard: async () => {
      calls.push('discard');
    },
  } as unknown as VolunteerEngine;
  return { engine, calls, finishTraining: () => stop?.() };
}

/** `relayKey`: the key the relay signs receipts with. */
export function scriptedRelay(relayKey: string | null = null) {
  const sent: string[] = [];
  let handler: ((message: RelayMessage) => void) | null = null;
  const client = {
    peerId: ME,
    relayKey,
    on: (h: (message: RelayMessage) => void) => {
      handler = h;
      return () => {};
    },
    ready: (round: number) => sent.push(`ready ${round}`),
    capabilities: () => {},
    frameClaim: async () => 'claim',
    manifest: async (m: { round: number }) => {
      sent.push(`manifest ${m.round}`);
    },
    close: () => {},
  } as unknown as SwarmClient;
  /** While set, an upload hangs as one retried against a busy relay does, until its signal aborts. */
  const uploads = { hang: false };
  const relay = {
    tokens: async () => new Uint16Array(33),
    uploadFrame: async (
      round: number,
      _peer: string,
      _bytes: Uint8Array,
      _claim: string,
      signal?: AbortSignal,
    ) => {
      if (uploads.hang)
        await new Promise((_, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason));
        });
      sent.push(`frame ${round}`);
    },
  } as unknown as RelayApi;
  const network: FrameNetwork = {
    connect: () => {},
    release: () => {},
    send: async () => {},
    onMessage: () => () => {},
    onPeerRefused: () => () => {},
    traffic: { bytesSent: 0, bytesReceived: 0 },
    connectedPeers: [],
  };
  return { client, relay, network, sent, uploads, deliver: (m: RelayMessage) => handler?.(m) };
}

export const assignment = (round: number): RelayMessage => ({
  type: 'assignment',
  round,
  configHash: HASH,
  modelHash: HASH,
  seed: 7,
  group: [{ peer: ME, name: 'me', innerSteps: 4 }],
  shard: { start: 0, end: 33 },
  innerSteps: 4,
  learningRate: 0.001,
  deadline: Date.now() + 60_000,
});

/** A volunteer on `engine` driven by `relay`, keeping what it holds in memory; its events in `events`. */
export function scriptedVolunteer(engine: VolunteerEngine, relay: ReturnType<typeof scriptedRelay>) {
  const store = new MemoryVolunteerStore();
  const events: VolunteerEvent[] = [];
  const volunteer = new Volunteer({
    client: relay.client,
    network: relay.network,
    engine,
    relay: relay.relay,
    store,
    runId: 'run',
    speed: { tokensPerSec: 100, uplinkBytesPerSec: 1e6, downlinkBytesPerSec: 1e6 },
    adapter: { vendor: 'test', architecture: '', description: '', isSoftware: true },
    paramCount: 4,
    onEvent: (event) => events.push(event),
  });
  return { volunteer, store, events };
}
