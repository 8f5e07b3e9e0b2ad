// GPT-2's input embedding: out (B, T, C) = wte[tokens[b, t]] + wpe[t], a thread per vec4 of
// out. Output: out is OVERWRITTEN. C must be a multiple of 4. tokens must lie in [0, V)
// (checked on the CPU by bucketTokens). CPU reference: kernels/reference/encoder.ts.

struct Params {
  n: u32, // positions, B * T
  t: u32, // sequence length T
  c4: u32, // vec4s per row (C / 4)
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> wpe: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

// The entry point is grid_common.wgsl's (prepended): a thread per vec4 of out.
fn thread_count() -> u32 {
  return params.n * params.c4;
}

fn run_thread(i: u32) {
  let c4 = params.c4;
  let pos = i / c4;
  let j = i % c4;
  out[i] = wte[tokens[pos] * c4 + j] + wpe[(pos % params.t) * c4 + j];
}
