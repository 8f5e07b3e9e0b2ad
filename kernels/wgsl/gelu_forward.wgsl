// GELU forward (gelu_common.wgsl, prepended, has the formula): out = x sigmoid(2u) =
// x / (1 + exp(-2u)). Output: out is OVERWRITTEN.

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i >= params.n4) {
    return;
  }
  let x = inp[i];
  let u = clamped_u(x + CUBIC * x * x * x);
  out[i] = x / (1.0 + exp(-2.0 * u));
}
