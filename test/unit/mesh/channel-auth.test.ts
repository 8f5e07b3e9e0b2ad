// The handshake state machine with the wire replaced by a queue: two honest sides finish,
// an impostor or an out-of-order frame fails it, and nothing happens after cancel().
import { expect, it } from 'vitest';
import { type AuthFrame, decodeAuthFrame, encodeAuthFrame } from '../../../protocol/mesh-auth-frame.ts';
import { type AuthFailure, ChannelAuth } from '../../../web/src/peer/channel-auth.ts';
import type { PeerIdentity } from '../../../web/src/peer/identity.ts';
import { newIdentity } from './mesh-harness.ts';

const random = (bytes: number) => crypto.getRandomValues(new Uint8Array(bytes));

interface Side {
  readonly auth: ChannelAuth;
  readonly outbox: Uint8Array[];
  readonly result: Promise<AuthFailure | null>;
}

function side(identity: PeerIdentity, remoteKey: string, runId = 'run'): Side {
  const outbox: Uint8Array[] = [];
  let settle: (failure: AuthFailure | null) => void = () => {};
  const result = new Promise<AuthFailure | null>((resolve) => {
    settle = resolve;
  });
  const auth = new ChannelAuth({
    identity,
    runId,
    remoteKey,
    random,
    send: (f) => outbox.push(f),
    done: settle,
  });
  return { auth, outbox, result };
}

/** Moves frames both ways until neither side has anything left to say. */
async function pump(a: Side, b: Side): Promise<void> {
  for (let rounds = 0; rounds < 20; rounds++) {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const bytes of from.outbox.splice(0)) to.auth.receive(decodeAuthFrame(bytes) as AuthFrame);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

it('authenticates two honest sides', async () => {
  const [x, y] = [await newIdentity(), await newIdentity()];
  const a = side(x, y.publicKey);
  const b = side(y, x.publicKey);
  a.auth.start();
  b.auth.start();
  await pump(a, b);
  expect(await a.result).toBeNull();
  expect(await b.result).toBeNull();
  expect(a.auth.authenticated && b.auth.authenticated).toBe(true);
});

it('fails a side that signs for a key it does not hold', async () => {
  const [x, y, forger] = [await newIdentity(), await newIdentity(), await newIdentity()];
  const a = side(x, y.publicKey);
  const impostor = side({ publicKey: y.publicKey, sign: (m) => forger.sign(m) }, x.publicKey);
  a.auth.start();
  impostor.auth.start();
  await pump(a, impostor);
  expect(await a.result).toBe('auth-failed');
  expect(a.auth.authenticated).toBe(false);
  expect(impostor.auth.authenticated).toBe(false);
});

it('fails a signature made for another run', async () => {
  const [x, y] = [await newIdentity(), await newIdentity()];
  const a = side(x, y.publicKey, 'run-a');
  const b = side(y, x.publicKey, 'run-b');
  a.auth.start();
  b.auth.start();
  await pump(a, b);
  expect(await a.result).toBe('auth-failed');
  expect(await b.result).toBe('auth-failed');
});

it('fails frames out of order or repeated', async () => {
  const [x, y] = [await newIdentity(), await newIdentity()];
  const early = side(x, y.publicKey);
  early.auth.start();
  early.auth.receive({ kind: 'accepted' }); // before we even responded
  expect(await early.result).toBe('protocol');

  const twice = side(x, y.publicKey);
  twice.auth.start();
  const challenge = decodeAuthFrame(encodeAuthFrame({ kind: 'challenge', nonce: random(32) })) as AuthFrame;
  twice.auth.receive(challenge);
  twice.auth.receive(challenge);
  expect(await twice.result).toBe('protocol');
});

it('stays silent after cancel()', async () => {
  const [x, y] = [await newIdentity(), await newIdentity()];
  const a = side(x, y.publicKey);
  a.auth.start();
  a.auth.receive({ kind: 'challenge', nonce: random(32) });
  a.auth.cancel();
  a.auth.cancel();
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(a.outbox).toHaveLength(1); // the challenge only: the signature was dropped
});
