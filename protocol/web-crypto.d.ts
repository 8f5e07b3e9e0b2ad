// The slice of WebCrypto that protocol/ uses, declared by hand for the same reason as
// text-codec.d.ts: protocol/ compiles against bare ES2022, while browsers, Web Workers and
// Node >= 19 all expose `crypto.subtle` as a global.
// Spec: https://w3c.github.io/webcrypto/#SubtleCrypto-method-digest

interface PotluckSubtleCrypto {
  digest(algorithm: 'SHA-256', data: ArrayBufferView | ArrayBuffer): Promise<ArrayBuffer>;
}

declare var crypto: { readonly subtle: PotluckSubtleCrypto };
