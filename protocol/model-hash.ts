// The model hash: SHA-256 of a round's outer state, the flat fp32 weights followed by the
// outer optimizer's momentum, little-endian, as hex. Peers report it after every round to
// prove they hold bit-identical state, and the relay serves the committed checkpoint under it
// (its ETag). The momentum is part of it because a peer that joins with the right weights but
// another momentum would take a different outer step and fall out of agreement a round later.

import { sha256Hex } from './sha256.ts';
/** Hex SHA-256 of the weights' bytes, then the momentum's (all zero before the first round). */
export async function modelHash(weights: Float32Array, momentum: Float32Array): Promise<string> {
  if (momentum.length !== weights.length)
    throw new RangeError(`momentum of ${momentum.length} floats for ${weights.length} weights`);
  // WebCrypto hashes one buffer at a time (no streaming digest), so the two are joined.
  const bytes = new Float32Array(weights.length * 2);
  bytes.set(weights, 0);
  bytes.set(momentum, weights.length);
  return sha256Hex(new Uint8Array(bytes.buffer));
}
