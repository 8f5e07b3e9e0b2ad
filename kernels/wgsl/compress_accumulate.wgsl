// acc = θ_start − θ_local + residual: the pseudo-gradient plus what earlier rounds did not
// send (error feedback). key = 0 for an index random-k drops, else bits(|acc|) + 1: the bit
// patterns of non-negative floats order like the floats, so top-k can select on integers.

@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read_write> keys: array<u32>;
@group(0) @binding(2) var<storage, read> start: array<f32>;
@group(0) @binding(3) var<storage, read> current: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

// The entry point is compress_stream.wgsl's (prepended).
fn stream_count() -> u32 {
  return params.n;
}

fn stream_item(i: u32) {
  let a = (start[i] - current[i]) + residual[i];
  acc[i] = a;
  var key = 0u;
  if (random_k_hash(params.seed, i) <= params.keep_max) {
    key = bitcast<u32>(abs(a)) + 1u;
  }
  keys[i] = key;
}
