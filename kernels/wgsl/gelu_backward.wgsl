// Backward of GELU (tanh approximation), over n floats as n/4 vec4s:
//   dinp = gelu'(inp) * dout
// Output: dinp is OVERWRITTEN (the reference accumulates; in the model the MLP's
// pre-activation gradient has no other contributor). dinp may not alias dout: WebGPU
// forbids a writable binding overlapping another one. CPU reference: kernels/reference/gelu.ts.

struct Params {
  n4: u32, // vec4s (n / 4)
}

@group(0) @binding(0) var<storage, read_write> dinp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const CUBIC: f32 = 0.044715;
// See gelu_forward.wgsl: keeps tanh away from exp overflow (NaN) on some implementations.
const TANH_CLAMP: f32 = 10.0;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.n4) {
    return;
  }
  let x = inp[i];
  let x2 = x * x;
  let u = clamp(SQRT_2_OVER_PI * (x + CUBIC * x2 * x), vec4(-TANH_CLAMP), vec4(TANH_CLAMP));
  let th = tanh(u);
  let sech2 = 1.0 - th * th;
  let local = 0.5 * (1.0 + th) + 0.5 * x * sech2 * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x2);
  dinp[i] = local * dout[i];
}
