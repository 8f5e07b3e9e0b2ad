// In real Chromium (WebGPU on SwiftShader), the random-k index stream from the browser's
// JavaScript and from a WGSL kernel equals the golden digests the Node tests check: every
// peer, browser or headless, regenerates the same candidates from a round's seed.
import { expect, it } from 'vitest';
import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import { cpuCandidates, digest, gpuCandidates, RANDOM_K_GOLDEN } from '../helpers/random-k-golden.ts';

it('regenerates the golden random-k candidates on the CPU and the GPU', async () => {
  const ctx = new GpuContext(await acquireDevice(navigator.gpu, 'random-k'));
  try {
    for (const golden of RANDOM_K_GOLDEN) {
      const expected = { count: golden.count, crc: golden.crc };
      expect(digest(cpuCandidates(golden))).toEqual(expected);
      expect(digest(await gpuCandidates(ctx, golden))).toEqual(expected);
    }
  } finally {
    ctx.destroy();
  }
});
