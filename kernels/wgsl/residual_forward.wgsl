// out = a + b over n floats, as n/4 vec4s (the residual stream's skip connection).
// Output: out is OVERWRITTEN. `out` may not alias `a` or `b` (WebGPU forbids a writable
// binding that overlaps another binding of the same dispatch).
// No residual_backward kernel: d(a) = d(b) = d(out), and the residual stream keeps one
// gradient buffer that every branch's backward accumulates into (kernels/gpt/).

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

// Params, the entry point and a thread per vec4: vec4_common.wgsl and grid_common.wgsl (prepended).
fn run_thread(i: u32) {
  out[i] = a[i] + b[i];
}
