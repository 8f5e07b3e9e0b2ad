// Shared by gelu_forward.wgsl and gelu_backward.wgsl (kernels/ops/gelu.ts prepends it, with
// vec4_common.wgsl; WGSL has no includes): GELU, tanh approximation (GPT-2's "gelu_new"), over n floats as n/4 vec4s,
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3),
// computed through sigmoid(2u) = 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)): one exp and no tanh,
// about 15% faster on SwiftShader, and the backward's sech^2 comes out without the
// cancellation of 1 - tanh^2. CPU reference: kernels/reference/gelu.ts.

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const CUBIC: f32 = 0.044715;
// exp(-2u) must not overflow: WGSL leaves an overflowing exp indeterminate (some
// implementations give NaN, as tanh built on exp does for |u| > ~44). At |u| = 40 the
// sigmoid is already 0 or 1 to far below f32 precision for any activation short of 1e30.
const U_CLAMP: f32 = 40.0;

// u from its inner term x + CUBIC x^3 (each kernel rounds that term its own way), clamped.
fn clamped_u(inner: vec4<f32>) -> vec4<f32> {
  return clamp(SQRT_2_OVER_PI * inner, vec4(-U_CLAMP), vec4(U_CLAMP));
}
