// In real Chromium (WebGPU on SwiftShader), SparseLoCo's top-k per chunk sends the same frame
// bytes and keeps the same decayed residual as in Node: the browser's CPU reference and the
// GpuCompressor both equal the golden digests the Node tests check, so a browser volunteer's
// frames pass the relay's bit-for-bit redo of its round.
import { expect, it } from 'vitest';
import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import { CHUNKED_TOP_K_GOLDEN, cpuDigest, gpuDigest } from '../helpers/chunked-topk-golden.ts';

it('sends the golden frames and keeps the golden residual of top-k per chunk', async () => {
  const ctx = new GpuContext(await acquireDevice(navigator.gpu, 'chunked-topk'));
  try {
    for (const golden of CHUNKED_TOP_K_GOLDEN) {
      expect(cpuDigest(golden), `${golden.name} (CPU)`).toEqual(golden.digest);
      expect(await gpuDigest(ctx, golden), `${golden.name} (GPU)`).toEqual(golden.digest);
    }
  } finally {
    ctx.destroy();
  }
});
