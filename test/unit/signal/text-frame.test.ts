// The frames we build by hand (text-frame.ts) arrive whole through a real ws client at each of
// the three length encodings (7-bit, 16-bit, 64-bit), multi-byte UTF-8 included.
import { expect, it } from 'vitest';
import { startSignal, TestClient } from './harness.ts';

it('delivers publishes of every frame length intact', async () => {
  const harness = await startSignal({ maxFrameBytes: 512 * 1024 });
  try {
    const client = await TestClient.open(harness.url);
    client.send({ type: 'subscribe', topics: ['r'] });
    // The envelope is 52 bytes: frames of 52, 125, 126, 65,535, 65,536 and 200,052 bytes.
    for (const bytes of [0, 73, 74, 65_483, 65_484, 200_000]) {
      const data = 'é'.repeat(bytes >> 1) + 'x'.repeat(bytes & 1);
      client.send({ type: 'publish', topic: 'r', data });
      expect(await client.next()).toEqual({ type: 'publish', topic: 'r', data, clients: 1 });
    }
  } finally {
    await harness.close();
  }
});
