// Hostile clients on /swarm: each bad frame closes only its own connection, the relay stays
// up, an honest volunteer keeps training through all of it, and nothing accumulates.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAX_SWARM_FRAME_BYTES } from '../../../protocol/swarm-messages.ts';
import { helloMessage } from '../../../protocol/swarm-signing.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';

let relay: RelayHandle;
let honest: ScriptedVolunteer;
let swarmUrl = '';

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset());
  swarmUrl = `${relay.url.replace('http', 'ws')}/swarm`;
  honest = await startScriptedVolunteer(relay.url, 'honest');
});
afterAll(async () => {
  honest?.close();
  await relay?.close();
});

interface Outcome {
  readonly code: number;
  readonly reason: string;
  readonly messages: { type: string; code?: string }[];
}

/** Opens a raw socket, waits for the challenge, lets `act` misbehave, and reports how it closed. */
function misbehave(
  act: (
    ws: WebSocket,
    challenge: { nonce: string; runId: string; stampBits: number },
  ) => void | Promise<void>,
) {
  return new Promise<Outcome>((resolve, reject) => {
    const ws = new WebSocket(swarmUrl);
    const messages: { type: string; code?: string }[] = [];
    const timer = setTimeout(() => reject(new Error('the relay did not close the connection')), 15_000);
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      messages.push(message);
      if (message.type === 'challenge') void act(ws, message);
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), messages });
    });
  });
}

const refusedWith = (outcome: Outcome) => outcome.messages.find((m) => m.type === 'error')?.code;

it('refuses malformed JSON, wrong types and unknown message types', async () => {
  expect(refusedWith(await misbehave((ws) => ws.send('{"type":"hello",')))).toBe('ERR_SWARM_JSON');
  expect(refusedWith(await misbehave((ws) => ws.send('{"type":"hello","publicKey":7}')))).toBe(
    'ERR_SWARM_SCHEMA',
  );
  expect(refusedWith(await misbehave((ws) => ws.send('{"type":"gimme-credits"}')))).toBe('ERR_SWARM_SCHEMA');
  expect(refusedWith(await misbehave((ws) => ws.send('[]')))).toBe('ERR_SWARM_SCHEMA');
  expect(refusedWith(await misbehave((ws) => ws.send('null')))).toBe('ERR_SWARM_SCHEMA');
});

it('refuses work before the challenge is answered, and a forged answer', async () => {
  const early = await misbehave((ws) =>
    ws.send(JSON.stringify({ type: 'ready', round: -1, modelHash: null })),
  );
  expect(refusedWith(early)).toBe('ERR_SWARM_UNAUTHENTICATED');
  const victim = await identityFromKeyPair(await generateKeyPair());
  const forged = await misbehave(async (ws, challenge) => {
    const attacker = await identityFromKeyPair(await generateKeyPair());
    const signature = await attacker.sign(helloMessage(challenge.runId, challenge.nonce));
    // A valid stamp for the victim's key (stamps are public): the signature is what fails.
    const stamp = await freshStamps(victim.publicKey)(challenge.runId, challenge.stampBits);
    ws.send(
      JSON.stringify({ type: 'hello', publicKey: victim.publicKey, signature, stamp, platform: 'node' }),
    );
  });
  expect(refusedWith(forged)).toBe('ERR_SWARM_SIGNATURE');
});

it('ignores __proto__ keys instead of letting them reach an object', async () => {
  const outcome = await misbehave(async (ws, challenge) => {
    const me = await identityFromKeyPair(await generateKeyPair());
    const signature = await me.sign(helloMessage(challenge.runId, challenge.nonce));
    const stamp = await freshStamps(me.publicKey)(challenge.runId, challenge.stampBits);
    ws.send(
      `{"type":"hello","publicKey":"${me.publicKey}","signature":"${signature}","stamp":"${stamp}","platform":"node","__proto__":{"polluted":true}}`,
    );
    ws.send('{"type":"ready","round":-1,"modelHash":null,"__proto__":{"round":99}}');
    setTimeout(() => ws.send('{"type":"ready","round":"x"}'), 100);
  });
  expect(outcome.messages.map((m) => m.type)).toContain('welcome');
  expect(outcome.messages.map((m) => m.type)).toContain('resync');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

it('closes a connection that sends an oversized frame (1009) or binary frames', async () => {
  const big = await misbehave((ws) =>
    ws.send(`{"type":"leave","reason":"${'x'.repeat(MAX_SWARM_FRAME_BYTES)}"}`),
  );
  expect(big.code).toBe(1009);
  const binary = await misbehave((ws) => ws.send(new Uint8Array([1, 2, 3])));
  expect(binary.code).toBe(1008);
});

it('closes a flooding connection at its rate limit', async () => {
  const flood = await misbehave((ws) => {
    for (let i = 0; i < 500; i++) ws.send('{"type":"ready","round":-1,"modelHash":null}');
  });
  expect(flood.code).toBe(1008);
});

it('keeps the honest volunteer training through all of the above, with nothing left behind', async () => {
  const before = honest.held.round;
  await honest.commits(honest.messages.filter((m) => m.type === 'commit').length + 2);
  expect(honest.held.round).toBeGreaterThan(before);
  expect(relay.run.coordinator.connectedPeers).toBe(1);
  const health = await (await relay.app.request('/healthz')).json();
  expect(health).toMatchObject({ ok: true, peers: 1 });
});
