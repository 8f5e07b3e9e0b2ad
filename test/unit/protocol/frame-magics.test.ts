// Every binary format's magic is listed once, and no two formats share one: a reader that
// sees another format's magic must refuse it as such, never half-read it as its own.
import { expect, it } from 'vitest';
import { decodeActivationFrame } from '../../../protocol/activation-frame.ts';
import { splitIntoChunks } from '../../../protocol/frame-chunks.ts';
import { FRAME_MAGICS, hasMagic, MAGIC_BYTES, MESH_AUTH_MAGIC } from '../../../protocol/frame-magics.ts';
import { decodeAuthFrame, encodeAuthFrame, isAuthFrame } from '../../../protocol/mesh-auth-frame.ts';
import { decodeTensorFrame, frameKind } from '../../../protocol/tensor-frame.ts';

const text = (magic: Uint8Array) => String.fromCharCode(...magic);

it('gives every format a distinct four-letter ASCII magic starting with PLT', () => {
  const magics = Object.values(FRAME_MAGICS).map(text);
  expect(magics.length).toBeGreaterThanOrEqual(5);
  expect(new Set(magics).size).toBe(magics.length);
  for (const magic of magics) expect(magic).toMatch(/^PLT[A-Z]$/);
  for (const magic of Object.values(FRAME_MAGICS)) expect(magic.length).toBe(MAGIC_BYTES);
});

it('names the mesh auth frame PLTM, apart from the activation frame', () => {
  expect(text(MESH_AUTH_MAGIC)).toBe('PLTM');
  expect(text(FRAME_MAGICS['activation frame'] as Uint8Array)).toBe('PLTA');
});

it('keeps every reader off the others’ frames', () => {
  const auth = encodeAuthFrame({ kind: 'challenge', nonce: new Uint8Array(32) });
  expect(decodeActivationFrame(auth)).toMatchObject({ ok: false });
  expect(decodeTensorFrame(auth)).toMatchObject({ ok: false });
  expect(frameKind(auth)).toBeNull();
  for (const chunk of splitIntoChunks(1, new Uint8Array(64))) {
    expect(isAuthFrame(chunk)).toBe(false);
    expect(decodeAuthFrame(chunk)).toBeNull();
  }
});

it('reads a magic only where the bytes hold one', () => {
  expect(hasMagic(new Uint8Array(0), MESH_AUTH_MAGIC)).toBe(false);
  expect(hasMagic(MESH_AUTH_MAGIC.subarray(0, 3), MESH_AUTH_MAGIC)).toBe(false);
  expect(hasMagic(MESH_AUTH_MAGIC, MESH_AUTH_MAGIC)).toBe(true);
});
