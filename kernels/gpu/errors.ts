// Errors that cross from the GPU layer carry stable codes (simple-peer's ERR_* habit), so
// callers and the worker boundary can tell "no WebGPU here" from "the device died".

export type GpuErrorCode =
  | 'ERR_WEBGPU_UNAVAILABLE' // no navigator.gpu / no Dawn binding at all
  | 'ERR_NO_ADAPTER' // WebGPU exists but offered no adapter
  | 'ERR_DEVICE_LOST' // the device went away (driver reset, tab backgrounded, destroy())
  | 'ERR_GPU_VALIDATION' // a WebGPU validation or out-of-memory error: a bug on our side
  | 'ERR_SHAPE' // a kernel was asked for shapes it does not support
  | 'ERR_STATE'; // calls out of order (e.g. error feedback before any compression)

export class GpuError extends Error {
  override readonly name = 'GpuError';
  constructor(
    readonly code: GpuErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
