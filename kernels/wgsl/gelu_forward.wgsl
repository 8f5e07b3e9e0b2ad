// GELU, tanh approximation (GPT-2's "gelu_new"), over n floats as n/4 vec4s:
//   out = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
// Output: out is OVERWRITTEN. CPU reference: kernels/reference/gelu.ts.

struct Params {
  n4: u32, // vec4s (n / 4)
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const CUBIC: f32 = 0.044715;
// tanh(u) is 1.0f for |u| > 9.1. Some implementations compute tanh from exp(2u), which
// overflows to inf/inf = NaN for |u| > ~44, so the argument is clamped first.
const TANH_CLAMP: f32 = 10.0;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.n4) {
    return;
  }
  let x = inp[i];
  let u = clamp(SQRT_2_OVER_PI * (x + CUBIC * x * x * x), vec4(-TANH_CLAMP), vec4(TANH_CLAMP));
  out[i] = 0.5 * x * (1.0 + tanh(u));
}
