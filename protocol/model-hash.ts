// The model hash: SHA-256 of the flat fp32 weights, little-endian, as hex. Peers report it
// after every round to prove they hold bit-identical weights, and the relay serves the
// committed checkpoint under it (its ETag). Any difference in any bit changes it.

/** Hex SHA-256 of the weights' bytes. */
export async function modelHash(weights: Float32Array): Promise<string> {
  // WebCrypto's types want an ArrayBuffer-backed view; weights are never in shared memory.
  const digest = await crypto.subtle.digest('SHA-256', weights as Float32Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
