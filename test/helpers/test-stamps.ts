// Identity stamps for test clients: minted on the spot (test run configs ask for a few bits,
// so a stamp takes about a millisecond), not kept, since each test identity joins once.
import type { StampSource } from '../../web/src/peer/kept-stamp.ts';
import { mintStamp } from '../../web/src/peer/stamp-mint.ts';

export const freshStamps =
  (publicKey: string): StampSource =>
  (runId, bits) =>
    mintStamp(runId, publicKey, bits);
