// Backward of GELU (gelu_common.wgsl, prepended, has the forward's formula):
//   dinp = gelu'(inp) * dout,  gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) u'(x)
// with s = sigmoid(2u): 0.5 (1 + tanh u) = s and sech^2(u) = 4 s (1 - s), so one exp and no
// 1 - tanh^2 cancellation.
// Output: dinp is OVERWRITTEN (the reference accumulates; in the model the MLP's
// pre-activation gradient has no other contributor). dinp may not alias dout: WebGPU
// forbids a writable binding overlapping another one.

@group(0) @binding(0) var<storage, read_write> dinp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

// Past |x| = 6 the slope is 1 or 0 to f32 precision; clamping x keeps x^2 finite, so huge
// activations give 0 * finite rather than 0 * inf = NaN.
const X_CLAMP: f32 = 20.0;

// Params, the entry point and a thread per vec4: vec4_common.wgsl and grid_common.wgsl (prepended).
fn run_thread(i: u32) {
  let x = clamp(inp[i], vec4(-X_CLAMP), vec4(X_CLAMP));
  let x2 = x * x;
  let u = clamped_u(x + CUBIC * x2 * x);
  let s = 1.0 / (1.0 + exp(-2.0 * u));
  let local = s + 2.0 * x * s * (1.0 - s) * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * x2);
  dinp[i] = local * dout[i];
}
