// In real Chromium (WebGPU on SwiftShader), every quantized activation codec encodes the golden
// tensors to the golden bytes the Node tests check, from the browser's JavaScript (the CPU
// reference) and from the WGSL kernel: a frame is the same whoever sends it, stochastic
// rounding included.
import { expect, it } from 'vitest';
import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import {
  ACTIVATION_CODEC_GOLDEN,
  cpuPayload,
  gpuPayload,
  payloadDigest,
} from '../helpers/activation-codec-golden.ts';

it('encodes the golden activation payloads on the CPU and the GPU', async () => {
  const ctx = new GpuContext(await acquireDevice(navigator.gpu, 'activation-codec'));
  try {
    for (const golden of ACTIVATION_CODEC_GOLDEN) {
      const name = `${golden.codec} (${golden.rows}, ${golden.width}) block ${golden.blockSize}`;
      expect(payloadDigest(cpuPayload(golden)), `${name} on the CPU`).toBe(golden.crc);
      expect(payloadDigest(await gpuPayload(ctx, golden)), `${name} on the GPU`).toBe(golden.crc);
    }
  } finally {
    ctx.destroy();
  }
});
