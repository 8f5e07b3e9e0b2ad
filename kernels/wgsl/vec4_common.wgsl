// The elementwise vec4 kernels' side of vec4Dispatch (kernels/gpu/grid.ts): the uniform it
// binds after the tensors, and a thread per vec4 on grid_common.wgsl's entry point.
// Prepended by withVec4Entry (WGSL has no includes).

struct Params {
  n4: u32, // vec4s (n / 4)
}

fn thread_count() -> u32 {
  return params.n4;
}
