// SHA-256 as lowercase hex, the one form every hash in the protocol takes (model hashes,
// frame hashes, config hashes, ledger entries). WebCrypto, so the same in browsers and Node.

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto's types want an ArrayBuffer-backed view; nothing here lives in shared memory.
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
