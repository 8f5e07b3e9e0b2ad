// LayerNorm over the last dimension of inp (N, C), one thread per row:
//   out = (inp - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + EPS)
// Outputs, all OVERWRITTEN: out (N, C), mean (N), rstd (N) (the last two for the backward).
// The variance is the mean of squared deviations from the mean (two passes over the row),
// not E[x^2] - E[x]^2, which cancels catastrophically when |mean| >> std.
// A thread per row, not a workgroup: SwiftShader runs barriers as coroutine switches, and a
// workgroup per row with a tree reduction measured 3x (8 threads) to 14x (32 threads) slower
// at N = 1024, C = 128. A 128-wide row is 32 vec4s of straight-line work. C must be a
// multiple of 4.
// CPU reference: kernels/reference/layernorm.ts.

struct Params {
  n: u32, // rows
  c4: u32, // vec4s per row (C / 4)
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> params: Params;

// GPT-2's epsilon; set from kernels/gpt/config.ts LAYERNORM_EPS.
override EPS: f32 = 1e-5;

// The entry point is grid_common.wgsl's (prepended): a thread per row.
fn thread_count() -> u32 {
  return params.n;
}

fn run_thread(row: u32) {
  let c4 = params.c4;
  let base = row * c4;
  let width = f32(c4 * 4u);

  var sum = vec4(0.0);
  for (var j = 0u; j < c4; j++) {
    sum += inp[base + j];
  }
  let m = (sum.x + sum.y + sum.z + sum.w) / width;

  var sq = vec4(0.0);
  for (var j = 0u; j < c4; j++) {
    let d = inp[base + j] - m;
    sq += d * d;
  }
  let s = inverseSqrt((sq.x + sq.y + sq.z + sq.w) / width + EPS);

  for (var j = 0u; j < c4; j++) {
    out[base + j] = (inp[base + j] - m) * s * weight[j] + bias[j];
  }
  mean[row] = m;
  rstd[row] = s;
}
