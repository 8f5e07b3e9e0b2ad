// A round the relay aborts while this volunteer trains it (its relay died, a change of leader)
// stops at the engine's next step: the volunteer sends nothing for it and asks for work once,
// at once, rather than when a round nobody will take is done. The round opened again under the
// same number is trained. The engine here blocks in train() until told to stop, as a long
// round on a slow GPU does; the relay's side is a script of messages.
import { expect, it } from 'vitest';
import { TrainingAbortedError } from '../../../kernels/round/training-aborted.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import type { RelayApi } from '../../../web/src/peer/relay-api.ts';
import type { SwarmClient } from '../../../web/src/peer/swarm-client.ts';
import { type FrameNetwork, Volunteer } from '../../../web/src/peer/volunteer.ts';
import { MemoryVolunteerStore } from '../../bench/scale/memory-store.ts';

const HASH = 'a'.repeat(64);
const ME = 'M'.repeat(43);

/** An engine whose training runs until abortTraining() or finish() is called. */
function blockingEngine() {
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

function scriptedRelay() {
  const sent: string[] = [];
  let handler: ((message: RelayMessage) => void) | null = null;
  const client = {
    peerId: ME,
    relayKey: null,
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

const assignment = (round: number): RelayMessage => ({
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

it('stops training a round the relay aborted, sends nothing for it, asks for work once, and trains the round opened again', async () => {
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay();
  const volunteer = new Volunteer({
    client: relay.client,
    network: relay.network,
    engine,
    relay: relay.relay,
    store: new MemoryVolunteerStore(),
    runId: 'run',
    speed: { tokensPerSec: 100, uplinkBytesPerSec: 1e6, downlinkBytesPerSec: 1e6 },
    adapter: { vendor: 'test', architecture: '', description: '', isSoftware: true },
    paramCount: 4,
  });
  await volunteer.start();
  expect(relay.sent).toEqual(['ready -1']);

  relay.deliver(assignment(0));
  await expect.poll(() => calls).toEqual(['train 0']);
  // The abort arrives while round 0 trains; without the interrupt it would wait behind it.
  relay.deliver({ type: 'round-aborted', round: 0, reason: 'the leading relay changed' });
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1']);
  expect(calls).toEqual(['train 0', 'abort', 'discard']);

  // The new leader opens round 0 again: this one is trained, and its frame goes out.
  relay.deliver(assignment(0));
  await expect.poll(() => calls).toContain('train 0');
  await expect.poll(() => calls.filter((c) => c === 'train 0').length).toBe(2);
  finishTraining();
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1', 'frame 0', 'manifest 0']);
  expect(calls).toEqual(['train 0', 'abort', 'discard', 'train 0', 'contribute']);
  volunteer.stop();
});

it('stops uploading the frame of a round the relay aborted, and sends no manifest for it', async () => {
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay();
  const volunteer = new Volunteer({
    client: relay.client,
    network: relay.network,
    engine,
    relay: relay.relay,
    store: new MemoryVolunteerStore(),
    runId: 'run',
    speed: { tokensPerSec: 100, uplinkBytesPerSec: 1e6, downlinkBytesPerSec: 1e6 },
    adapter: { vendor: 'test', architecture: '', description: '', isSoftware: true },
    paramCount: 4,
  });
  await volunteer.start();
  relay.uploads.hang = true; // the relay it uploads through answers 503 until the leader is back
  relay.deliver(assignment(1));
  await expect.poll(() => calls).toEqual(['train 1']);
  finishTraining();
  await expect.poll(() => calls).toEqual(['train 1', 'contribute']);
  relay.deliver({ type: 'round-aborted', round: 1, reason: 'the leading relay changed' });
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1']);
  expect(calls).toEqual(['train 1', 'contribute', 'discard']);
  volunteer.stop();
});
