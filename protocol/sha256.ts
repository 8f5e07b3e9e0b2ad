// SHA-256 as lowercase hex, the one form every hash in the protocol takes (model hashes,
// frame hashes, config hashes, ledger entries). WebCrypto, so the same in browsers and Node.

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto's types want an ArrayBuffer-backed view; nothing here lives in shared memory.
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return hexOf(new Uint8Array(digest));
}

/** Bytes as lowercase hex. */
export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Lowercase hex (an even number of digits, checked by the caller) as bytes. */
export function bytesOfHex(text: string): Uint8Array {
  return Uint8Array.from({ length: text.length / 2 }, (_, i) =>
    Number.parseInt(text.slice(2 * i, 2 * i + 2), 16),
  );
}
