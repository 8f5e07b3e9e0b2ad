// Backward of the embedding, deterministic and without atomics, in one dispatch:
//   threads [0, T * C/4):         dwpe[t] = sum over b of dout[b, t]         OVERWRITES dwpe (T, C)
//   threads [T * C/4, +V * C/4):  dwte[v] += sum of dout rows with token v   ACCUMULATES into dwte (V, C)
// dwte accumulates because the tied classifier (logits = x wte^T) writes its gradient first.
// Each vocabulary thread walks its own bucket of positions, built on the CPU by a stable
// counting sort (kernels/ops/encoder.ts bucketTokens): positions[offsets[v] .. offsets[v+1])
// are the flat indices b * T + t whose token is v, in increasing order, so every sum runs in
// a fixed order. C must be a multiple of 4. CPU reference: kernels/reference/encoder.ts.

struct Params {
  b: u32, // batch size B
  t: u32, // sequence length T
  c4: u32, // vec4s per row (C / 4)
  v: u32, // vocabulary size V
}

@group(0) @binding(0) var<storage, read_write> dwte: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dwpe: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<uniform> params: Params;

// The entry point is grid_common.wgsl's (prepended): the dwpe threads, then the dwte ones.
fn thread_count() -> u32 {
  return (params.t + params.v) * params.c4;
}

fn run_thread(i: u32) {
  let c4 = params.c4;
  let wpe_threads = params.t * c4;
  if (i < wpe_threads) {
    // i is (t, j): rows b * T + t for b in order.
    let stride = wpe_threads;
    var acc = vec4(0.0);
    for (var b = 0u; b < params.b; b++) {
      acc += dout[b * stride + i];
    }
    dwpe[i] = acc;
    return;
  }
  let k = i - wpe_threads;
  let v = k / c4;
  let j = k % c4;
  let end = offsets[v + 1u];
  var acc = vec4(0.0);
  for (var p = offsets[v]; p < end; p++) {
    acc += dout[positions[p] * c4 + j];
  }
  dwte[k] += acc;
}
