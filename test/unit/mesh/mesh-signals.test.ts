// What the mesh accepts from /signal topics: its own two kinds with checked fields, nothing
// else, and never an exception.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import {
  connectPayload,
  isPeerKey,
  MAX_SDP_LENGTH,
  meshTopic,
  parseMeshSignal,
  signalPayload,
} from '../../../web/src/peer/mesh-signals.ts';

const key = encodeBase64url(new Uint8Array(32).fill(1));
const session = encodeBase64url(new Uint8Array(16).fill(2));
const envelope = { type: 'publish', topic: meshTopic('run', key), clients: 2 };

it('accepts offers, answers, candidates and connect requests, dropping the envelope', () => {
  const offer = { type: 'offer' as const, sdp: 'v=0\r\n' };
  expect(parseMeshSignal({ ...envelope, ...signalPayload(key, session, offer) })).toEqual({
    kind: 'signal',
    from: key,
    session,
    signal: offer,
  });
  const candidate = {
    type: 'candidate' as const,
    candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMLineIndex: 0, sdpMid: '0' },
  };
  expect(parseMeshSignal({ ...envelope, ...signalPayload(key, session, candidate) })?.kind).toBe('signal');
  expect(parseMeshSignal({ ...envelope, ...connectPayload(key) })).toEqual({ kind: 'connect', from: key });
});

it('refuses bad keys, sessions, oversized SDP and signals a data-only mesh never uses', () => {
  const offer = { type: 'offer', sdp: 'v=0' };
  const bad = [
    { ...envelope, kind: 'connect', from: `${key}A` },
    { ...envelope, kind: 'connect', from: encodeBase64url(new Uint8Array(31)) },
    { ...envelope, kind: 'connect', from: `${key.slice(0, -1)}B` }, // non-zero unused bits
    { ...envelope, kind: 'signal', from: key, session: 'short', signal: offer },
    {
      ...envelope,
      kind: 'signal',
      from: key,
      session,
      signal: { type: 'offer', sdp: 'x'.repeat(MAX_SDP_LENGTH + 1) },
    },
    { ...envelope, kind: 'signal', from: key, session, signal: { type: 'renegotiate', renegotiate: true } },
    { ...envelope, kind: 'signal', from: key, session, signal: { type: 'candidate', candidate: 'x' } },
    { ...envelope, kind: 'hello', from: key },
    { ...envelope, from: key },
    null,
    'text',
  ];
  for (const message of bad) expect(parseMeshSignal(message)).toBeNull();
  expect(isPeerKey(key)).toBe(true);
  expect(isPeerKey(42)).toBe(false);
});

it('never throws on arbitrary JSON', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      parseMeshSignal(value);
      parseMeshSignal({ ...envelope, kind: 'signal', from: key, session, signal: value });
    }),
  );
});
