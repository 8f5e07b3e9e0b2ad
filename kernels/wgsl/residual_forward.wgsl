// out = a + b, elementwise over n floats (the residual stream's skip connection).
// The backward pass needs no kernel of its own: d(a) = d(b) = d(out) is accumulated by
// the consumers, see kernels/gpt/ for how gradients flow through the residual stream.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < params.n) {
    out[i] = a[i] + b[i];
  }
}
