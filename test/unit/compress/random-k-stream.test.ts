// The random-k index stream in Node, on the CPU and on the GPU (Dawn), equals the golden
// digests that test/browser/random-k.test.ts also checks in Chromium.
import { expect, it } from 'vitest';
import { nodeContext } from '../../helpers/node-context.ts';
import { cpuCandidates, digest, gpuCandidates, RANDOM_K_GOLDEN } from '../../helpers/random-k-golden.ts';

for (const golden of RANDOM_K_GOLDEN) {
  it(`seed ${golden.seed}, fraction ${golden.fraction}, n ${golden.n}: CPU and GPU match the golden digest`, async () => {
    const expected = { count: golden.count, crc: golden.crc };
    expect(digest(cpuCandidates(golden))).toEqual(expected);
    expect(digest(await gpuCandidates(await nodeContext(), golden))).toEqual(expected);
  });
}
