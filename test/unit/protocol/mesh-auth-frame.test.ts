// The handshake frames round-trip, and anything else is refused without throwing.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { splitIntoChunks } from '../../../protocol/frame-chunks.ts';
import {
  AUTH_HEADER_BYTES,
  AUTH_KIND_OFFSET,
  AUTH_RESERVED_OFFSET,
  AUTH_VERSION_OFFSET,
  type AuthFrame,
  authTranscript,
  decodeAuthFrame,
  encodeAuthFrame,
  isAuthFrame,
} from '../../../protocol/mesh-auth-frame.ts';

const frames: AuthFrame[] = [
  { kind: 'challenge', nonce: new Uint8Array(32).fill(7) },
  { kind: 'response', signature: new Uint8Array(64).fill(9) },
  { kind: 'accepted' },
];

it.each(frames)('round-trips a $kind frame', (frame) => {
  const bytes = encodeAuthFrame(frame);
  expect(isAuthFrame(bytes)).toBe(true);
  expect(decodeAuthFrame(bytes)).toEqual(frame);
});

it.each(frames)('refuses a $kind frame truncated, extended or altered in its header', (frame) => {
  const bytes = encodeAuthFrame(frame);
  for (let length = 0; length < bytes.length; length++)
    expect(decodeAuthFrame(bytes.subarray(0, length))).toBeNull();
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  expect(decodeAuthFrame(longer)).toBeNull();
  for (const [offset, value] of [
    [AUTH_VERSION_OFFSET, 2],
    [AUTH_KIND_OFFSET, 0],
    [AUTH_KIND_OFFSET, 4],
    [AUTH_RESERVED_OFFSET, 1],
    [AUTH_RESERVED_OFFSET + 1, 1],
  ] as const) {
    const altered = bytes.slice();
    altered[offset] = value;
    expect(decodeAuthFrame(altered)).toBeNull();
  }
});

it('is never mistaken for a payload chunk, nor a chunk for it', () => {
  for (const chunk of splitIntoChunks(1, new Uint8Array(100))) {
    expect(isAuthFrame(chunk)).toBe(false);
    expect(decodeAuthFrame(chunk)).toBeNull();
  }
});

it('never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const frame = decodeAuthFrame(bytes);
      if (frame) expect(encodeAuthFrame(frame)).toEqual(bytes);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (body) => {
      const bytes = new Uint8Array(AUTH_HEADER_BYTES + body.length);
      bytes.set(encodeAuthFrame({ kind: 'accepted' }));
      bytes.set(body, AUTH_HEADER_BYTES);
      bytes[AUTH_KIND_OFFSET] = (body[0] ?? 0) % 5;
      decodeAuthFrame(bytes);
    }),
  );
});

it('signs a transcript that names the run, both keys and the nonce', () => {
  const text = new TextDecoder().decode(
    authTranscript('run-1', 'SIGNER', 'VERIFIER', Uint8Array.of(0xff, 0xfe)),
  );
  expect(text).toBe('potluck-mesh-auth-v1|run-1|SIGNER|VERIFIER|__4');
});
