// tfjs-backend-webgpu in Node on our own device: it must really run there (no silent CPU
// fallback), compute right, and the matmul benchmark must return sane figures.
import { describe, expect, it } from 'vitest';
import { gemm } from '../../../kernels/reference/gemm.ts';
import { benchTfjsMatmul } from '../../bench/tfjs/tfjs-matmul.ts';
import { TFJS_WEBGPU, webgpuBackend } from '../../bench/tfjs/tfjs-node-webgpu.ts';
import { expectClose, randomFloats } from '../../helpers/compare.ts';
import { tfjsContext } from './tfjs-context.ts';

describe('tfjs on our WebGPU device', () => {
  it('uses the webgpu backend on the device we gave it', async () => {
    const { tf, device } = await tfjsContext();
    expect(tf.getBackend()).toBe(TFJS_WEBGPU);
    expect(webgpuBackend().device).toBe(device);
    expect(tf.getGradient('Neg')).toBeDefined();
  });

  it('matMul matches the CPU reference', async () => {
    const { tf } = await tfjsContext();
    const [M, K, N] = [64, 48, 40];
    const a = randomFloats(M * K, 1);
    const b = randomFloats(K * N, 2);
    const want = new Float32Array(M * N);
    gemm(want, a, b, null, { M, N, K });
    const out = tf.tidy(() => tf.matMul(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [K, N])));
    expectClose('tfjs matMul', await out.data(), want, 1e-5);
    out.dispose();
  });

  it('benchTfjsMatmul reports finite GFLOP/s and frees its tensors', async () => {
    const { tf } = await tfjsContext();
    const before = tf.memory().numTensors;
    const { gflops, msPerIter } = await benchTfjsMatmul(tf, 128, 64, 96, { warmup: 1, iters: 3 });
    console.log(`tfjs matmul 128x64x96: ${msPerIter.toFixed(2)} ms, ${gflops.toFixed(3)} GFLOP/s`);
    expect(gflops).toBeGreaterThan(0);
    expect(Number.isFinite(gflops)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
