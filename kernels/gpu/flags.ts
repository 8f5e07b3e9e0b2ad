// WebGPU's usage bit values, fixed by the spec (https://www.w3.org/TR/webgpu/#buffer-usage).
// Written out so modules can use them at import time, before Node has installed Dawn's
// `GPUBufferUsage` global.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001 } as const;
