// verifyEd25519 refuses the small-order public keys: with one of them, R = identity and S = 0
// verify for every message under WebCrypto's cofactorless check, so anyone could sign as it.
import { describe, expect, it } from 'vitest';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import { isSmallOrderKey, verifyEd25519 } from '../../../protocol/ed25519-verify.ts';

const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));

/** The eight small-order points, and non-canonical or other-sign spellings of them. */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1, i.e. 1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p, i.e. 0
];

describe('verifyEd25519', () => {
  it('refuses every small-order key, whatever the message', async () => {
    const identityR = new Uint8Array(64);
    identityR[0] = 1; // R = the identity point, S = 0
    for (const key of SMALL_ORDER) {
      expect(isSmallOrderKey(hex(key)), key).toBe(true);
      for (const message of ['hello', 'any message at all'])
        expect(
          await verifyEd25519(
            encodeBase64url(hex(key)),
            encodeBase64url(identityR),
            new TextEncoder().encode(message),
          ),
        ).toBe(false);
    }
  });

  it('still accepts a real key and refuses its signature on another message', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    expect(isSmallOrderKey(raw)).toBe(false);
    const message = new TextEncoder().encode('round 3 manifest');
    const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, message));
    expect(await verifyEd25519(encodeBase64url(raw), encodeBase64url(signature), message)).toBe(true);
    expect(
      await verifyEd25519(
        encodeBase64url(raw),
        encodeBase64url(signature),
        new TextEncoder().encode('round 4'),
      ),
    ).toBe(false);
  });
});
