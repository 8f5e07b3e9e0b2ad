// Tensors inside bigger buffers (the flat parameter and gradient buffers) are bound as byte
// ranges; WebGPU requires each range to start on minStorageBufferOffsetAlignment.
import type { BufferSlice } from './context.ts';
import { GpuError } from './errors.ts';

/** The largest storage offset alignment the WebGPU spec allows; layouts align to it. */
export const MAX_STORAGE_ALIGNMENT_BYTES = 256;

export function sliceFloats(buffer: GPUBuffer, offsetFloats: number, countFloats: number): BufferSlice {
  const offset = offsetFloats * 4;
  if (offset % MAX_STORAGE_ALIGNMENT_BYTES !== 0) {
    throw new GpuError('ERR_SHAPE', `${buffer.label}: offset ${offsetFloats} floats is not 256-byte aligned`);
  }
  if (offset + countFloats * 4 > buffer.size) {
    throw new GpuError(
      'ERR_SHAPE',
      `${buffer.label}: slice [${offsetFloats}, +${countFloats}) overruns the buffer`,
    );
  }
  return { buffer, offset, size: Math.max(4, countFloats * 4) };
}
