// GELU forward (gelu_common.wgsl, prepended, has the formula): out = x sigmoid(2u) =
// x / (1 + exp(-2u)). Output: out is OVERWRITTEN.

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

// Params, the entry point and a thread per vec4: vec4_common.wgsl and grid_common.wgsl (prepended).
fn run_thread(i: u32) {
  let x = inp[i];
  let u = clamped_u(x + CUBIC * x * x * x);
  out[i] = x / (1.0 + exp(-2.0 * u));
}
