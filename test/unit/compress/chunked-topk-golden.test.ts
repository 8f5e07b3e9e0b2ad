// SparseLoCo's top-k per chunk in Node, on the CPU reference and on the GPU (Dawn): its frames
// and its decayed residual equal the golden digests that test/browser/chunked-topk.test.ts
// also checks in Chromium.
import { expect, it } from 'vitest';
import { CHUNKED_TOP_K_GOLDEN, cpuDigest, gpuDigest } from '../../helpers/chunked-topk-golden.ts';
import { nodeContext } from '../../helpers/node-context.ts';

for (const golden of CHUNKED_TOP_K_GOLDEN) {
  it(`${golden.name}: CPU and GPU match the golden digest`, async () => {
    expect(cpuDigest(golden)).toEqual(golden.digest);
    expect(await gpuDigest(await nodeContext(), golden)).toEqual(golden.digest);
  });
}
