// Shared by the three forward matmul kernels (kernels/ops/matmul.ts prepends it; WGSL has no
// includes): their contract, bindings and flags.
//   out (M, N) = op(A) @ op(B) [+ bias] [+ out]
// A is stored (M, K), or (K, M) when TRANS_A; B is stored (K, N), or (N, K) when TRANS_B.
// The linear layer's backward pass is this same product with transposes (dinp = dout @ W^T,
// dW = inp^T @ dout), plus matmul_backward_bias.wgsl; kernels/ops/matmul.ts wires them.
// Each kernel names its element type `Elem`: vec4<f32> in the two vec4 families
// (matmul_vec4.wgsl), f32 in matmul_forward_scalar.wgsl.

struct Shape {
  M: u32,
  N: u32,
  K: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<Elem>;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
// N floats; bound to a 16-byte dummy when HAS_BIAS is false.
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<uniform> shape: Shape;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
