// The slice of WebCrypto that protocol/ uses, declared by hand for the same reason as
// text-codec.d.ts: protocol/ compiles against bare ES2022, while browsers, Web Workers and
// Node >= 19 all expose `crypto.subtle` as a global.
// Spec: https://w3c.github.io/webcrypto/#SubtleCrypto-method-digest
// Ed25519: https://wicg.github.io/webcrypto-secure-curves/ (Node 20, Chromium 137+).

/** Opaque: protocol/ only hands keys back to `verify`. */
interface PotluckCryptoKey {
  readonly type: string;
}

interface PotluckSubtleCrypto {
  digest(algorithm: 'SHA-256', data: ArrayBufferView | ArrayBuffer): Promise<ArrayBuffer>;
  importKey(
    format: 'raw',
    keyData: ArrayBufferView | ArrayBuffer,
    algorithm: { name: 'Ed25519' },
    extractable: boolean,
    keyUsages: ['verify'],
  ): Promise<PotluckCryptoKey>;
  verify(
    algorithm: 'Ed25519',
    key: PotluckCryptoKey,
    signature: ArrayBufferView | ArrayBuffer,
    data: ArrayBufferView | ArrayBuffer,
  ): Promise<boolean>;
}

declare var crypto: { readonly subtle: PotluckSubtleCrypto };
