// GELU, tanh approximation (GPT-2's "gelu_new"), over n floats as n/4 vec4s:
//   out = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// computed as x * sigmoid(2u) = x / (1 + exp(-2u)), the same function with one exp and no
// tanh: about 15% faster on SwiftShader, and the backward's sech^2 comes out without the
// cancellation of 1 - tanh^2. Output: out is OVERWRITTEN. CPU reference: kernels/reference/gelu.ts.

struct Params {
  n4: u32, // vec4s (n / 4)
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const CUBIC: f32 = 0.044715;
// exp(-2u) must not overflow: WGSL leaves an overflowing exp indeterminate (some
// implementations give NaN, as tanh built on exp does for |u| > ~44). At |u| = 40 the
// sigmoid is already 0 or 1 to far below f32 precision for any activation short of 1e30.
const U_CLAMP: f32 = 40.0;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.n4) {
    return;
  }
  let x = inp[i];
  let u = clamp(SQRT_2_OVER_PI * (x + CUBIC * x * x * x), vec4(-U_CLAMP), vec4(U_CLAMP));
  out[i] = x / (1.0 + exp(-2.0 * u));
}
