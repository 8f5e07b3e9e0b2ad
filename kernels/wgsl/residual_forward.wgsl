// out = a + b over n floats, as n/4 vec4s (the residual stream's skip connection).
// Output: out is OVERWRITTEN. `out` may not alias `a` or `b` (WebGPU forbids a writable
// binding that overlaps another binding of the same dispatch).
// No residual_backward kernel: d(a) = d(b) = d(out), and the residual stream keeps one
// gradient buffer that every branch's backward accumulates into (kernels/gpt/).

struct Params {
  n4: u32, // vec4s to add (n / 4)
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

// A 2-D grid of 1-D workgroups: big tensors need more than 65535 workgroups in x.
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i < params.n4) {
    out[i] = a[i] + b[i];
  }
}
